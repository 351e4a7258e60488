import { ImprintError } from '../errors';
import { spawnWorker, workerKind, type TypedWorker } from '../worker-host';
import type { EncodedFrame } from './zstd-seekable-writer';

/**
 * Seekable frames compressed on several threads at once: each frame is
 * independent, so N threads compress N frames side by side, each with its own
 * libzstd context, and the caller appends the results in content order
 * (SeekableZstdWriter.appendFrame). libzstd's own workers (nbWorkers) would
 * split each frame instead, which cost 1.6-3.3 % in size (zstd-seekable-writer.ts).
 *
 * The content must sit in a SharedArrayBuffer (the backup's ring): the
 * threads read it in place.
 */

export interface FrameWorkerData {
  level: number;
  memory: SharedArrayBuffer;
}

export type ToFrameWorker = { type: 'encode'; id: number; offset: number; length: number } | { type: 'close' };

export type FromFrameWorker =
  | { type: 'done'; id: number; bytes: ArrayBuffer; decompressedSize: number; checksum: number }
  | { type: 'error'; id: number; message: string };

/** The compression thread (workers/zstd-frame-worker.ts). */
export const ZSTD_FRAME_WORKER = workerKind<ToFrameWorker, FromFrameWorker, FrameWorkerData>('zstd-frame-worker');
type Worker = TypedWorker<ToFrameWorker, FromFrameWorker>;

interface Task {
  id: number;
  offset: number;
  length: number;
  resolve(frame: EncodedFrame): void;
  reject(err: Error): void;
}

export class ZstdFramePool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly running = new Map<Worker, Task>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(threads: number, level: number, memory: SharedArrayBuffer) {
    const workerData: FrameWorkerData = { level, memory };
    for (let i = 0; i < Math.max(1, threads); i++) {
      const worker = spawnWorker(ZSTD_FRAME_WORKER, workerData);
      worker.onMessage((reply) => this.settle(worker, reply));
      worker.onError((err) => this.fail(new ImprintError('E_INTERNAL', `A zstd compression thread failed: ${err.message}`, { cause: err })));
      worker.onExit(() => {
        if (!this.failure) this.fail(new ImprintError('E_INTERNAL', 'A zstd compression thread stopped unexpectedly.'));
      });
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  /** Compresses `length` bytes at `offset` of the shared memory into one frame; the memory must stay as it is until this resolves. */
  encode(offset: number, length: number): Promise<EncodedFrame> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.queue.push({ id: this.nextId++, offset, length, resolve, reject });
      this.pump();
    });
  }

  /** Stops the threads; frames not yet done fail. */
  async close(): Promise<void> {
    this.fail(new ImprintError('E_CANCELLED', 'The compression threads were stopped.'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop() as Worker;
      const task = this.queue.shift() as Task;
      this.running.set(worker, task);
      worker.post({ type: 'encode', id: task.id, offset: task.offset, length: task.length });
    }
  }

  private settle(worker: Worker, reply: FromFrameWorker): void {
    const task = this.running.get(worker);
    this.running.delete(worker);
    if (!task || task.id !== reply.id) return this.fail(new ImprintError('E_INTERNAL', 'A zstd compression thread answered out of turn.'));
    if (reply.type === 'done') task.resolve({ bytes: new Uint8Array(reply.bytes), decompressedSize: reply.decompressedSize, checksum: reply.checksum });
    else task.reject(new ImprintError('E_INTERNAL', `A zstd compression thread failed: ${reply.message}`));
    this.idle.push(worker);
    this.pump();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const task of [...this.running.values(), ...this.queue.splice(0)]) task.reject(err);
    this.running.clear();
  }
}
