import type { Measurement } from './peers';

/** 1 MB = 10^6 bytes, as dd and the figures count. */
export const MB = 1e6;

export function median(values: number[]): number | null {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** MB/s of the median run: uncompressed image bytes over wall seconds. */
export function rate(bytes: number, seconds: number[]): number | null {
  const s = median(seconds);
  return s === null || s <= 0 ? null : bytes / MB / s;
}

/** Seconds of the runs that succeeded; a failed run's time says nothing about speed. */
export function okSeconds(runs: Measurement[], pick: (m: Measurement) => number | null = (m) => m.seconds): number[] {
  return runs.filter((m) => m.ok).map(pick).filter((s): s is number => s !== null);
}

export const fmtRate = (v: number | null): string => (v === null ? '-' : v.toFixed(0));
export const fmtRatio = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)}x`);
export const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

/** A plain-text table with a header rule, columns padded to their widest cell (Markdown-friendly). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

/** One target of the issue, checked against what was measured. */
export interface TargetCheck {
  target: string;
  measured: string;
  /** null when the figures needed were not measured (e.g. --only). */
  pass: boolean | null;
}

export function targetsTable(checks: TargetCheck[]): string {
  return table(
    ['target', 'measured', 'result'],
    checks.map((c) => [c.target, c.measured, c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'MISS']),
  );
}

/** Checks "a is at least `factor` times b" and says how it came out. */
export function atLeast(target: string, a: number | null, b: number | null, factor: number, unit = 'x'): TargetCheck {
  const r = ratio(a, b);
  return { target, measured: r === null ? 'not measured' : `${r.toFixed(2)}${unit} (need >= ${factor.toFixed(2)}${unit})`, pass: r === null ? null : r >= factor };
}
