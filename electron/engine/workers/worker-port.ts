import { parentPort } from 'worker_threads';

/**
 * Typed access to a worker's parent port: one place that asserts the worker
 * is running as a worker, so each worker file reads as its protocol only.
 */
export function workerPort<In, Out>(): { post(msg: Out, transfer?: ArrayBuffer[]): void; onMessage(fn: (msg: In) => void): void } {
  const port = parentPort;
  if (!port) throw new Error('this file runs as a worker thread');
  return {
    post: (msg, transfer) => port.postMessage(msg, transfer ?? []),
    onMessage: (fn) => port.on('message', fn),
  };
}

/** A queue of free slot numbers that async code can wait on. */
export class SlotQueue {
  private free: number[];
  /** Takers waiting for a slot, oldest first (the drive reader keeps several reads waiting). */
  private waiters: (() => void)[] = [];

  constructor(count: number) {
    this.free = Array.from({ length: count }, (_, i) => i);
  }

  release(slot: number): void {
    this.free.push(slot);
    this.waiters.shift()?.();
  }

  /** Wakes every waiting `take` without a slot (used on cancel and on stopping). */
  interrupt(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  async take(isCancelled: () => boolean): Promise<number | null> {
    while (this.free.length === 0) {
      if (isCancelled()) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return isCancelled() ? null : (this.free.shift() as number);
  }
}
