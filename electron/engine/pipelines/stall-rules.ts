import type { ErrorInfo } from '../../../shared/error-codes';
import type { SourceInfo } from '../formats/image-source';
import type { TargetProgress } from '../../../shared/job-events';

/**
 * What the write pipeline's watchdog calls a hang, and what it tells the
 * user, kept apart from the pipeline's bookkeeping. `limit` is the stall
 * timeout in ms (write-pipeline-contract.ts's DEFAULT_STALL_TIMEOUT_MS or the caller's).
 */

function seconds(limit: number): string {
  return limit >= 1000 ? `${Math.round(limit / 1000)} s` : `${limit} ms`;
}

/** The image's drive (or share) that delivered nothing for the limit while the ring had room for it. */
export function hungSource(info: SourceInfo, sourceBytes: number, limit: number): ErrorInfo {
  const what = info.isDevice ? 'The drive stopped responding; unplug it, it may be failing.' : 'If it is on a failing drive or a network share, check that.';
  return { code: 'E_DEVICE_HUNG', message: `${info.path}: reading the image stopped: nothing came from it for ${seconds(limit)}. ${what}`, offset: sourceBytes };
}

/** What the watchdog looks at in a target being written (write-pipeline-contract's TargetRun has all of it). */
export interface WatchedTarget {
  plan: { path: string };
  progress: TargetProgress;
  /** The target's writer thread, null before it starts. */
  worker: unknown;
  outstanding: ReadonlySet<number>;
  lastProgressAt: number;
  finishing: boolean;
}

/** A target with work (opening, chunks queued, or the final head write and flush) that accepted nothing for the limit; null if it is not hung. */
export function hungTarget(t: WatchedTarget, now: number, limit: number): ErrorInfo | null {
  const opening = t.progress.status === 'pending' && t.worker !== null;
  const busy = t.progress.status === 'writing' && (t.outstanding.size > 0 || t.finishing);
  if (!(opening || busy) || now - t.lastProgressAt <= limit) return null;
  const when = opening ? ' while it was being opened' : t.outstanding.size === 0 ? ' while the last data was being flushed to it' : '';
  return {
    code: 'E_DEVICE_HUNG',
    message: `${t.plan.path}: the drive stopped responding. It accepted nothing for ${seconds(limit)}${when}. Unplug it; it may be failing.`,
    offset: t.progress.bytesWritten,
  };
}
