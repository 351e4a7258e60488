import type { JobEvent } from '../../shared/job-events';
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
  done(): void;
}

const BAR = 30;

export function createOutput(json: boolean, stream: NodeJS.WriteStream = process.stderr): Output {
  const tty = stream.isTTY === true;
  let barShown = false;
  let lastLine = 0;
  const clearBar = (): void => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
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
    event(e) {
      if (json) {
        process.stdout.write(JSON.stringify(e) + '\n');
        return;
      }
      if (e.type === 'progress') {
        const pct = e.totalBytes ? Math.min(100, (100 * e.bytesDone) / e.totalBytes) : null;
        const fill = pct === null ? 0 : Math.round((pct / 100) * BAR);
        const bar = pct === null ? '' : `[${'#'.repeat(fill)}${'.'.repeat(BAR - fill)}] ${pct.toFixed(0).padStart(3)}% `;
        const total = e.totalBytes ? formatBytes(e.totalBytes) : 'unknown total';
        const line = `${e.phase.padEnd(10)} ${bar}${formatBytes(e.bytesDone)} of ${total}  ${formatRate(e.bytesPerSecond)}  ETA ${formatDuration(e.etaSeconds)}`;
        if (tty) {
          stream.write('\r\x1b[2K' + line);
          barShown = true;
        } else if (Date.now() - lastLine > 5000 || e.phase === 'done') {
          // Not a terminal (a log file): a line every few seconds, not ten a second.
          lastLine = Date.now();
          stream.write(line + '\n');
        }
      } else if (e.type === 'target-failed') {
        clearBar();
        stream.write(`${e.device}: failed: ${e.error.message}\n`);
      } else if (e.type === 'warning') {
        clearBar();
        stream.write(`warning: ${e.message}\n`);
      }
    },
    done() {
      clearBar();
    },
  };
}
