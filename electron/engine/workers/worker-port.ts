import { parentPort } from 'worker_threads';
import { workerStart, type WorkerKind } from '../worker-host';

/** A thread's side of its kind: the data it was started with, its messages, and the caller's cancel. */
export interface WorkerPort<In, Out, Data> {
  data: Data;
  post(msg: Out, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (msg: In) => void): void;
  /** Closes the port: a thread with nothing else to do then ends by itself. */
  close(): void;
  /** Whether the caller's AbortSignal fired (worker-host.ts). */
  cancelled(): boolean;
  /** The shared flag behind cancelled(), for Atomics.wait. */
  cancelFlag: Int32Array;
}

/**
 * Typed access to a worker's parent port, from the same kind the host spawns
 * it by (so both ends agree on the messages at compile time): one place that
 * asserts the file runs as a worker, so each worker file reads as its protocol only.
 */
export function workerPort<In, Out, Data>(_kind: WorkerKind<In, Out, Data>): WorkerPort<In, Out, Data> {
  const port = parentPort;
  if (!port) throw new Error('this file runs as a worker thread');
  const start = workerStart<Data>();
  return {
    data: start.data,
    post: (msg, transfer) => port.postMessage(msg, transfer ?? []),
    onMessage: (fn) => port.on('message', fn),
    close: () => port.close(),
    cancelled: start.cancelled,
    cancelFlag: start.cancelFlag,
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

  isFree(slot: number): boolean {
    return this.free.includes(slot);
  }

  /** Takes this very slot once it is free (a fed source fills the slots in ring order: io/feed-ring.ts). */
  async takeSlot(slot: number, isCancelled: () => boolean): Promise<number | null> {
    while (!this.free.includes(slot)) {
      if (isCancelled()) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (isCancelled()) return null;
    this.free.splice(this.free.indexOf(slot), 1);
    return slot;
  }

  async take(isCancelled: () => boolean): Promise<number | null> {
    while (this.free.length === 0) {
      if (isCancelled()) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return isCancelled() ? null : (this.free.shift() as number);
  }
}
