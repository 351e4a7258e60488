import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError } from '../errors';
import { spawnWorker, workerKind, type TypedWorker } from '../worker-host';
import { chunkCrc } from '../io/chunk-crc';
import { SEEKABLE_FRAME_SIZE, SeekableFrameEncoder, type EncodedFrame } from './zstd-seekable-writer';

/**
 * Seekable frames compressed on several threads at once: each frame is
 * independent, so N threads compress N frames side by side, each with its own
 * libzstd context, and the caller appends the results in content order
 * (SeekableZstdWriter.appendFrame). libzstd's own workers (nbWorkers) would
 * split each frame instead, which cost 1.6-3.3 % in size (zstd-seekable-writer.ts).
 *
 * The content must sit in a SharedArrayBuffer (the backup's ring): the
 * threads read it in place. They write each frame into one of a few shared
 * output slots, lent with the frame and given back when the writer has
 * appended it (EncodedFrame.release): no memory is allocated, filled and
 * transferred per frame. Measured on the 1 GiB bench drive, that per-frame
 * buffer cost each thread about a third of its time (1.0 s beside 1.8 s
 * compressing, profiled) and most of the backup's extra system time.
 *
 * With `local`, the calling thread is one of the `threads`: it compresses a
 * frame itself (between its other work, one frame of a few ms at a time)
 * whenever every pool thread is busy. A thread costs about 0.1 s of CPU to
 * start and reaches its first frame 0.1-0.25 s after it is asked for (the
 * smart bench drive's backup, loaded host), where the caller is already
 * running: the backup's writer thread compresses beside one pool thread on a
 * two-core machine instead of starting two.
 */

export interface FrameWorkerData {
  level: number;
  memory: SharedArrayBuffer;
  /** The output slots, `outSlotSize` bytes each. */
  out: SharedArrayBuffer;
  outSlotSize: number;
  /** Also take the CRC-32 of each frame's content (io/chunk-crc.ts) as it is compressed (EncodedFrame.contentCrc). */
  contentCrcs?: boolean;
}

export type ToFrameWorker = { type: 'encode'; id: number; offset: number; length: number; outSlot: number } | { type: 'close' };

export type FromFrameWorker =
  | { type: 'done'; id: number; length: number; decompressedSize: number; checksum: number; contentCrc?: number }
  | { type: 'error'; id: number; message: string };

/** The compression thread (workers/zstd-frame-worker.ts). */
export const ZSTD_FRAME_WORKER = workerKind<ToFrameWorker, FromFrameWorker, FrameWorkerData>('zstd-frame-worker');
type Worker = TypedWorker<ToFrameWorker, FromFrameWorker>;

interface Task {
  id: number;
  offset: number;
  length: number;
  outSlot: number;
  resolve(frame: EncodedFrame): void;
  reject(err: Error): void;
}

function compressBound(length: number): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded on the thread that uses it
  return (require('zstd-napi/binding') as typeof ZstdBinding).compressBound(length);
}

export class ZstdFramePool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly running = new Map<Worker, Task>();
  private readonly out: SharedArrayBuffer;
  private readonly outSlotSize: number;
  private readonly freeOut: number[] = [];
  private nextId = 0;
  private failure: Error | null = null;
  /** `local`: this thread's encoder, and the frame it is compressing. */
  private readonly localEncoder: SeekableFrameEncoder | null;
  private localTask: Task | null = null;
  private readonly contentCrcs: boolean;

  /**
   * `maxFrame` bounds a frame's content; frames done but not yet appended
   * hold their output slot, so up to `threads` more than that many wait
   * (twice the threads are kept: the writer appends while they compress).
   */
  constructor(
    threads: number,
    level: number,
    private readonly memory: SharedArrayBuffer,
    maxFrame = SEEKABLE_FRAME_SIZE,
    contentCrcs = false,
    opts: { local?: boolean } = {},
  ) {
    const count = Math.max(1, threads);
    this.contentCrcs = contentCrcs;
    this.localEncoder = opts.local ? new SeekableFrameEncoder(level) : null;
    this.outSlotSize = compressBound(maxFrame);
    const outSlots = 2 * count + 2;
    this.out = new SharedArrayBuffer(outSlots * this.outSlotSize);
    for (let i = outSlots - 1; i >= 0; i--) this.freeOut.push(i);
    const workerData: FrameWorkerData = { level, memory, out: this.out, outSlotSize: this.outSlotSize, ...(contentCrcs ? { contentCrcs } : {}) };
    for (let i = this.localEncoder ? 1 : 0; i < count; i++) {
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

  /**
   * Compresses `length` bytes at `offset` of the shared memory into one frame;
   * the memory must stay as it is until this resolves. The frame's bytes are
   * lent: append it (SeekableZstdWriter.appendFrame releases it) or call its
   * `release()`, else the pool runs out of output slots.
   */
  encode(offset: number, length: number): Promise<EncodedFrame> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      if (length <= 0 || compressBound(length) > this.outSlotSize) return reject(new ImprintError('E_INTERNAL', `A pooled frame holds 1 to ${this.outSlotSize} bytes; got ${length}.`));
      this.queue.push({ id: this.nextId++, offset, length, outSlot: -1, resolve, reject });
      this.pump();
    });
  }

  /** Stops the threads; frames not yet done fail. */
  async close(): Promise<void> {
    this.fail(new ImprintError('E_CANCELLED', 'The compression threads were stopped.'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  /** Starts queued frames in order while a thread (a pool thread first, else this one) and an output slot are free. */
  private pump(): void {
    while (this.queue.length > 0 && this.freeOut.length > 0 && !this.failure) {
      const worker = this.idle.pop();
      if (!worker && (!this.localEncoder || this.localTask)) return;
      const task = this.queue.shift() as Task;
      task.outSlot = this.freeOut.pop() as number;
      if (!worker) {
        this.localTask = task;
        // Not inside encode()'s caller: it goes on queueing the slot's other frames first.
        setImmediate(() => this.encodeHere(task));
        continue;
      }
      this.running.set(worker, task);
      worker.post({ type: 'encode', id: task.id, offset: task.offset, length: task.length, outSlot: task.outSlot });
    }
  }

  /** A frame compressed on this thread, as a pool thread does it (workers/zstd-frame-worker.ts). */
  private encodeHere(task: Task): void {
    if (this.localTask !== task || !this.localEncoder) return;
    let reply: FromFrameWorker;
    try {
      const dest = Buffer.from(this.out, task.outSlot * this.outSlotSize, this.outSlotSize);
      const input = Buffer.from(this.memory, task.offset, task.length);
      const contentCrc = this.contentCrcs ? chunkCrc(input) : undefined;
      const frame = this.localEncoder.encodeInto(input, dest);
      reply = { type: 'done', id: task.id, length: frame.length, decompressedSize: task.length, checksum: frame.checksum, ...(contentCrc === undefined ? {} : { contentCrc }) };
    } catch (err) {
      reply = { type: 'error', id: task.id, message: err instanceof Error ? err.message : String(err) };
    }
    this.localTask = null;
    this.finishTask(task, reply);
  }

  private settle(worker: Worker, reply: FromFrameWorker): void {
    const task = this.running.get(worker);
    this.running.delete(worker);
    if (!task || task.id !== reply.id) return this.fail(new ImprintError('E_INTERNAL', 'A zstd compression thread answered out of turn.'));
    this.idle.push(worker);
    this.finishTask(task, reply);
  }

  private finishTask(task: Task, reply: FromFrameWorker): void {
    if (reply.type === 'done' && reply.length > 0 && reply.length <= this.outSlotSize) {
      const bytes = new Uint8Array(this.out, task.outSlot * this.outSlotSize, reply.length);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.freeOut.push(task.outSlot);
        this.pump();
      };
      task.resolve({ bytes, decompressedSize: reply.decompressedSize, checksum: reply.checksum, release, ...(reply.contentCrc === undefined ? {} : { contentCrc: reply.contentCrc }) });
    } else {
      this.freeOut.push(task.outSlot);
      task.reject(new ImprintError('E_INTERNAL', `A zstd compression thread failed: ${reply.type === 'error' ? reply.message : `it reported a frame of ${reply.length} bytes`}`));
    }
    this.pump();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const task of [...this.running.values(), ...(this.localTask ? [this.localTask] : []), ...this.queue.splice(0)]) task.reject(err);
    this.running.clear();
    this.localTask = null;
  }
}
