import type { ErrorInfo } from '../../../shared/error-codes';
import { formatBytes } from '../../../shared/units';

/**
 * The pure half of the capacity check (capacity-check.ts): where markers go,
 * what a marker holds, and what the markers that came back say about the
 * drive. A counterfeit drive reports more than it has and keeps only the low
 * bits of each address, so a marker written high lands on one written low
 * (f3probe's idea, in a quick form).
 */

/** One marker fills a page: large enough to carry its own proof, aligned for O_DIRECT. */
export const MARKER_BYTES = 4096;
/** Markers spread evenly over the drive, plus those at powers of two. */
const GRID = 64;
const MAGIC = 'IMPRINT CAPACITY MARKER 1\n';

/**
 * Offsets of the markers on a drive of `size` bytes: every 1/64th, every power
 * of two from 1 MiB (where a fake drive's address wraps), and the last page.
 * Sorted, distinct, page-aligned.
 */
export function markerOffsets(size: number): number[] {
  const last = Math.floor(size / MARKER_BYTES) * MARKER_BYTES - MARKER_BYTES;
  if (last < 0) return [];
  const set = new Set<number>();
  const page = (n: number): number => Math.floor(n / MARKER_BYTES) * MARKER_BYTES;
  for (let i = 0; i < GRID; i++) set.add(page((size / GRID) * i));
  for (let p = 1 << 20; p <= last; p *= 2) set.add(p);
  set.add(last);
  return [...set].filter((o) => o <= last).sort((a, b) => a - b);
}

/** The marker for `offset` in a run identified by `nonce` (hex): header, then bytes derived from both. */
export function encodeMarker(offset: number, nonce: string, into: Buffer): Buffer {
  const marker = into.subarray(0, MARKER_BYTES);
  const header = `${MAGIC}${nonce}\n${offset}\n`;
  marker.fill(0);
  marker.write(header, 'latin1');
  fillPattern(marker.subarray(256), `${nonce}:${offset}`);
  return marker;
}

/**
 * Which marker of this run `block` holds: its offset, or null when it holds
 * none (old data, zeros, garbage, a marker of another run, a torn write).
 */
export function decodeMarker(block: Buffer, nonce: string): number | null {
  const text = block.subarray(0, 256).toString('latin1');
  if (!text.startsWith(MAGIC)) return null;
  const [, runNonce, offsetText] = text.split('\n');
  if (runNonce !== nonce || !offsetText || !/^\d+$/.test(offsetText)) return null;
  const offset = Number(offsetText);
  const expected = Buffer.alloc(MARKER_BYTES);
  encodeMarker(offset, nonce, expected);
  return expected.equals(block.subarray(0, MARKER_BYTES)) ? offset : null;
}

/** Deterministic bytes from a seed (xorshift32): a marker cannot match by chance. */
function fillPattern(buf: Buffer, seed: string): void {
  let x = 2166136261;
  for (let i = 0; i < seed.length; i++) x = Math.imul(x ^ seed.charCodeAt(i), 16777619) >>> 0;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
}

/** What one marker did. */
export type MarkerResult =
  | { offset: number; state: 'intact' }
  /** It reads back as the marker written for another offset: that write landed here. */
  | { offset: number; state: 'overwritten'; by: number }
  /** It reads back as something else (old data, zeros). */
  | { offset: number; state: 'lost' }
  | { offset: number; state: 'write-error' | 'read-error'; errno: string };

export interface CapacityVerdict {
  ok: boolean;
  claimedBytes: number;
  /** Bytes the drive seems to hold really; equal to claimedBytes when every marker came back. */
  realBytesEstimate: number;
  /** The address period of a wrapping drive, when markers showed one. */
  wrapsAt: number | null;
  failedMarkers: number;
  error?: ErrorInfo;
}

/**
 * Judges the markers. Markers overwritten by others give the wrap period
 * (the greatest common divisor of the distances between a marker and the
 * one that landed on it).
 * Failures from some offset to the end mean the drive ends there. Scattered
 * failures with a sound end are bad sectors, not a fake capacity.
 */
export function judgeMarkers(device: string, claimedBytes: number, results: MarkerResult[]): CapacityVerdict {
  const failed = results.filter((r) => r.state !== 'intact');
  const base = { claimedBytes, failedMarkers: failed.length };
  if (failed.length === 0) return { ok: true, realBytesEstimate: claimedBytes, wrapsAt: null, ...base };

  const periods = failed.flatMap((r) => (r.state === 'overwritten' ? [Math.abs(r.by - r.offset)] : [])).filter((p) => p > 0);
  if (periods.length > 0) {
    // Each distance is a whole number of periods (2^40 - 2^39 on a 32 GiB fake): their GCD is the period.
    const period = periods.reduce(gcd);
    return {
      ok: false,
      realBytesEstimate: period,
      wrapsAt: period,
      ...base,
      error: {
        code: 'E_COUNTERFEIT',
        message: `${device} is counterfeit: the drive holds less than it claims; data wraps at about ${formatBytes(period)} (${period} bytes), though it reports ${formatBytes(claimedBytes)}. Writing past that point overwrites what is at the start. ${failed.length} of ${results.length} markers were overwritten.`,
        offset: period,
      },
    };
  }

  const sorted = [...results].sort((a, b) => a.offset - b.offset);
  const firstFailed = sorted.findIndex((r) => r.state !== 'intact');
  const tailFails = sorted.slice(firstFailed).every((r) => r.state !== 'intact');
  const first = sorted[firstFailed] as MarkerResult;
  if (tailFails) {
    const end = first.offset;
    return {
      ok: false,
      realBytesEstimate: end,
      wrapsAt: null,
      ...base,
      error: {
        code: 'E_COUNTERFEIT',
        message: `${device} holds less than it claims: it reports ${formatBytes(claimedBytes)}, but data from about ${formatBytes(end)} (byte ${end}) on is not kept (${describe(first)}). ${failed.length} of ${results.length} markers failed, every one from there to the end.`,
        offset: end,
      },
    };
  }
  const io = first.state === 'write-error' || first.state === 'read-error';
  return {
    ok: false,
    realBytesEstimate: claimedBytes,
    wrapsAt: null,
    ...base,
    error: {
      code: io ? 'E_BAD_SECTOR' : 'E_VERIFY_MISMATCH',
      message: `${device}: the marker at offset ${first.offset} ${io ? `failed (${describe(first)}): bad sector at offset ${first.offset}` : 'did not read back as written'}. Its capacity looks genuine (the markers at its end came back), but the drive is failing. ${failed.length} of ${results.length} markers failed.`,
      offset: first.offset,
    },
  };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function describe(r: MarkerResult): string {
  switch (r.state) {
    case 'write-error':
      return `writing there failed with ${r.errno}`;
    case 'read-error':
      return `reading there failed with ${r.errno}`;
    case 'lost':
      return 'what was written there did not read back';
    default:
      return r.state;
  }
}
