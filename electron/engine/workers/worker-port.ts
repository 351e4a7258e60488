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
  private waiter: (() => void) | null = null;

  constructor(count: number) {
    this.free = Array.from({ length: count }, (_, i) => i);
  }

  release(slot: number): void {
    this.free.push(slot);
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Wakes a waiting `take` without a slot (used on cancel). */
  interrupt(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async take(isCancelled: () => boolean): Promise<number | null> {
    while (this.free.length === 0) {
      if (isCancelled()) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return isCancelled() ? null : (this.free.shift() as number);
  }
}
