import type { ErrorInfo } from '../../../shared/error-codes';
import type { SourceInfo } from '../formats/image-source';
import { EarlyReadback, type EarlyReadbackOptions } from './early-readback';
import { hungSource, hungTarget, type WatchedTarget } from './stall-rules';

/**
 * What watches a write while it runs, kept apart from the write pipeline's
 * bookkeeping of slots and threads: the stall watchdog over the source and
 * every target, and each block-device target's read-back while writing.
 */

/** What the watchdog reads from a running write pipeline and what it may do to it. */
export interface StallWatch<T extends WatchedTarget> {
  info: SourceInfo;
  /** The stall timeout, ms. */
  limit: number;
  targets: readonly T[];
  /** The source was told to read, has neither ended nor failed, and the ring has room for it. */
  sourceOwes(): boolean;
  /** When the source last delivered something or was given room. */
  lastSourceAt(): number;
  /** Bytes the source has delivered, for the hang's offset. */
  sourceBytes(): number;
  failSource(error: ErrorInfo): void;
  failTarget(t: T, error: ErrorInfo): void;
}

/**
 * A source that has room in the ring and delivers nothing for the limit
 * fails the job as hung. A target that has work (opening, chunks queued, or
 * the final head write and flush) and accepts nothing for the limit is
 * failed as hung (stall-rules.ts). Its thread may be stuck in the kernel
 * for good (D state); the job goes on without it, and the pipeline's
 * shutdown abandons the thread. Returns the function that stops watching.
 */
export function startStallWatchdog<T extends WatchedTarget>(w: StallWatch<T>): () => void {
  const timer = setInterval(() => {
    const now = Date.now();
    if (w.sourceOwes() && now - w.lastSourceAt() > w.limit) {
      w.failSource(hungSource(w.info, w.sourceBytes(), w.limit));
      return;
    }
    for (const t of w.targets) {
      const hung = hungTarget(t, now, w.limit);
      if (hung) w.failTarget(t, hung);
    }
    // Checked twice per limit at least, and at most once a second.
  }, Math.min(1000, w.limit / 2));
  timer.unref();
  return () => clearInterval(timer);
}

export interface TargetReadbackOptions extends Omit<EarlyReadbackOptions, 'mayOffer' | 'onFailed'> {
  /** The target is still being written. */
  writing(): boolean;
  /** The pace allows a read-back now (write-pipeline-contract.ts's VerifyWhileWriting). */
  mayReadBack(): boolean;
  /** Stops the target's writer and fails the target. */
  fail(error: ErrorInfo): void;
}

/**
 * Reads a target back as it is written. A mismatch found early fails the
 * target at once: the rest of the image would go to a drive already known
 * not to keep it.
 */
export function startTargetReadback(o: TargetReadbackOptions): EarlyReadback {
  const { writing, mayReadBack, fail, ...rest } = o;
  return new EarlyReadback({
    ...rest,
    mayOffer: () => writing() && mayReadBack(),
    onFailed: (error) => {
      if (writing()) fail(error);
    },
  });
}
