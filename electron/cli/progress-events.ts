import type { JobPhase } from '../../shared/job-events';
import type { Output } from './output';

/**
 * A command's own progress (work that is not an engine job with its
 * events: a browse's decoding, a folder's verify) as `progress` events about
 * ten a second, which the output shows as a bar on a terminal and as a line
 * every few seconds in a log.
 */
export function progressEvents(out: Output, jobId: string, phase: JobPhase): (done: number, total: number | null) => void {
  let last = 0;
  const started = Date.now();
  return (done, total) => {
    const now = Date.now();
    // The last one always: a log's closing line then says all of it was done.
    if (now - last < 100 && done !== total) return;
    last = now;
    const rate = done / Math.max(0.001, (now - started) / 1000);
    out.event({ type: 'progress', jobId, phase, bytesDone: done, totalBytes: total, bytesPerSecond: rate, etaSeconds: total ? Math.max(0, (total - done) / rate) : null, targets: [] });
  };
}
