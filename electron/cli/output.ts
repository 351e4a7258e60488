import type { JobEvent, JobPhase, ProgressEvent } from '../../shared/job-events';
import { formatBytes, formatDuration, formatRate } from '../../shared/units';

/**
 * Where the CLI's words go. With `--json`, stdout carries one JSON event per
 * line and nothing else (the desktop app and scripts parse it); people's
 * messages then go to stderr.
 */
export interface Output {
  json: boolean;
  /** A result line for people (stdout) or a JSON object (stdout, one line). */
  result(text: string, data?: unknown): void;
  /** Informational text for people; stderr so it never mixes with results. */
  info(text: string): void;
  event(e: JobEvent): void;
  /**
   * What to call a job's phases in progress lines, where the engine's names
   * do not say what this command does (a hash "decompressing" a drive).
   */
  namePhases(names: Partial<Record<JobPhase, string>>): void;
  done(): void;
}

/** A phase as the output saw it: when it began and its latest event. */
interface PhaseSeen {
  phase: JobPhase;
  startedAt: number;
  last: ProgressEvent;
}

/** Off a terminal, a progress line every this many ms (a log, not ten lines a second). */
const LOG_LINE_MS = 5000;

const BAR = 30;

export function createOutput(json: boolean, stream: NodeJS.WriteStream = process.stderr): Output {
  const tty = stream.isTTY === true;
  let barShown = false;
  let lastLine = 0;
  let names: Partial<Record<JobPhase, string>> = {};
  let seen: PhaseSeen | null = null;
  /**
   * When the last phase ended (or the job began): a phase's time and bytes count
   * from there, because a fast phase may be all but done by its first event.
   */
  let boundary = Date.now();
  /** Targets of the running job: a failure is reported as it happens only when others go on. */
  let targetCount: number | null = null;
  const clearBar = (): void => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  /** Bytes a second: the engine's recent rate, else the phase's average so far, else unknown (never a made-up 0). */
  const rateOf = (p: PhaseSeen): number | null => {
    if (p.last.bytesPerSecond > 0) return p.last.bytesPerSecond;
    const seconds = (Date.now() - p.startedAt) / 1000;
    const bytes = p.last.bytesDone;
    return seconds >= 0.2 && bytes > 0 ? bytes / seconds : null;
  };
  const progressLine = (p: PhaseSeen): string => {
    const e = p.last;
    const pct = e.totalBytes ? Math.min(100, (100 * e.bytesDone) / e.totalBytes) : null;
    const fill = pct === null ? 0 : Math.round((pct / 100) * BAR);
    const bar = pct === null ? '' : `[${'#'.repeat(fill)}${'.'.repeat(BAR - fill)}] ${pct.toFixed(0).padStart(3)}% `;
    const total = e.totalBytes ? formatBytes(e.totalBytes) : 'unknown total';
    const rate = rateOf(p);
    return `${(names[e.phase] ?? e.phase).padEnd(10)} ${bar}${formatBytes(e.bytesDone)} of ${total}${rate !== null ? `  ${formatRate(rate)}` : ''}${e.etaSeconds !== null ? `  ETA ${formatDuration(e.etaSeconds)}` : ''}`;
  };
  /** Off a terminal, a finished phase gets one line: what it did, how long it took, how fast. */
  const closePhase = (): void => {
    const p = seen;
    seen = null;
    boundary = Date.now();
    if (tty || !p || p.phase === 'preparing' || p.phase === 'done' || p.last.bytesDone <= 0) return;
    const seconds = (Date.now() - p.startedAt) / 1000;
    // A finished phase's average is measured, however short it was; only a live rate needs a run-in.
    const rate = seconds > 0 ? p.last.bytesDone / seconds : rateOf(p);
    stream.write(`${(names[p.phase] ?? p.phase).padEnd(10)} ${formatBytes(p.last.bytesDone)} in ${seconds.toFixed(1)} s${rate !== null ? `, ${formatRate(rate)}` : ''}\n`);
  };
  return {
    json,
    result(text, data) {
      if (json) process.stdout.write(JSON.stringify(data ?? { message: text }) + '\n');
      else process.stdout.write(text + '\n');
    },
    info(text) {
      clearBar();
      stream.write(text + '\n');
    },
    namePhases(more) {
      names = { ...names, ...more };
    },
    event(e) {
      if (json) {
        process.stdout.write(JSON.stringify(e) + '\n');
        return;
      }
      if (e.type === 'job-started') {
        targetCount = e.targets.length;
        boundary = Date.now();
      } else if (e.type === 'progress') {
        if (seen?.phase !== e.phase) {
          closePhase();
          // Bytes count from zero: the engine starts each phase's count afresh.
          seen = { phase: e.phase, startedAt: boundary, last: e };
          lastLine = Date.now();
        }
        seen.last = e;
        if (tty) {
          stream.write('\r\x1b[2K' + progressLine(seen));
          barShown = true;
        } else if (Date.now() - lastLine >= LOG_LINE_MS && e.bytesDone > 0) {
          lastLine = Date.now();
          stream.write(progressLine(seen) + '\n');
        }
      } else if (e.type === 'target-failed') {
        // With one target the closing report says it; with several, the others go on and this one is dropped now.
        if (targetCount !== 1) {
          clearBar();
          stream.write(`${e.device}: failed: ${e.error.message}\n`);
        }
      } else if (e.type === 'warning') {
        clearBar();
        stream.write(`warning: ${e.message}\n`);
      }
    },
    done() {
      clearBar();
      closePhase();
    },
  };
}
