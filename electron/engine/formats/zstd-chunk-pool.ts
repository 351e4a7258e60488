import type { ErrorInfo } from '../../../shared/error-codes';
import { ImprintError, fromErrorInfo } from '../errors';
import { spawnWorker, workerKind, type TypedWorker, type WorkerKind } from '../worker-host';

/**
 * Content of a seekable .zst decoded on several threads at once, straight
 * into shared memory: each thread opens the file with its own
 * SeekableZstdReader (so every frame gets the reader's checks against the
 * seek table), decodes the frames of the range it is given into the caller's
 * slot (libzstd checks each frame's content against its own checksum, which
 * the reader holds to the seek table's), so the calling thread is left the
 * in-order work only. A backup folder's threads (folder-chunk-worker.ts)
 * also take the range's CRC-32 there. A restore of a smart backup decoded
 * and checked 0.8 GB in one thread at about 190 MB/s; two threads share it.
 */

export interface ChunkWorkerData {
  /** The seekable .zst. */
  file: string;
  /** Where decoded content goes (the restore's page-aligned chunk buffers). */
  memory: SharedArrayBuffer;
}

export type ToChunkWorker = { type: 'decode'; id: number; offset: number; length: number; at: number } | { type: 'close' };

export type FromChunkWorker = { type: 'done'; id: number; bytes: number; crc?: number } | { type: 'error'; id: number; error: ErrorInfo };

/** The decoding thread (workers/zstd-chunk-worker.ts). */
export const ZSTD_CHUNK_WORKER = workerKind<ToChunkWorker, FromChunkWorker, ChunkWorkerData>('zstd-chunk-worker');
type Worker = TypedWorker<ToChunkWorker, FromChunkWorker>;

/** A decoded range: how many bytes the content had there, and (a backup folder's) their CRC-32. */
export interface DecodedChunk {
  bytes: number;
  /** A backup folder's threads: taken where the range's content is (zeros between its pieces, workers/folder-chunk-worker.ts). */
  crc?: number;
}

interface Task {
  id: number;
  offset: number;
  length: number;
  at: number;
  resolve(chunk: DecodedChunk): void;
  reject(err: Error): void;
}

/**
 * Ranges given to each thread before it answers for the first: on a busy
 * machine a thread waited for the calling thread to be scheduled between
 * every range; with a few queued it goes straight on to the next.
 */
const QUEUED_PER_THREAD = 3;

/**
 * The pool also runs other threads that answer the same messages over other
 * data (a backup folder's pieces: workers/folder-chunk-worker.ts), given
 * their kind.
 */
export class ZstdChunkPool<Data extends { memory: SharedArrayBuffer } = ChunkWorkerData> {
  private readonly all: Worker[] = [];
  private readonly queue: Task[] = [];
  /** Each thread's ranges in the order it was given them (it answers in that order). */
  private readonly given = new Map<Worker, Task[]>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(threads: number, data: Data, kind?: WorkerKind<ToChunkWorker, FromChunkWorker, Data>) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      const worker = kind ? spawnWorker(kind, data) : spawnWorker(ZSTD_CHUNK_WORKER, data as unknown as ChunkWorkerData);
      worker.onMessage((reply) => this.settle(worker, reply));
      worker.onError((err) => this.fail(new ImprintError('E_INTERNAL', `A zstd decoding thread failed: ${err.message}`, { cause: err })));
      worker.onExit(() => {
        if (!this.failure) this.fail(new ImprintError('E_INTERNAL', 'A zstd decoding thread stopped unexpectedly.'));
      });
      this.all.push(worker);
      this.given.set(worker, []);
    }
  }

  /** Ranges the threads take on at once; more wait in the pool's queue. */
  get capacity(): number {
    return this.all.length * QUEUED_PER_THREAD;
  }

  /** Decodes content [offset, offset+length) into the shared memory at byte `at`; the memory there must not be used until this resolves. */
  decode(offset: number, length: number, at: number): Promise<DecodedChunk> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.queue.push({ id: this.nextId++, offset, length, at, resolve, reject });
      this.pump();
    });
  }

  /** Stops the threads; ranges not yet decoded fail. */
  async close(): Promise<void> {
    this.fail(new ImprintError('E_CANCELLED', 'The decoding threads were stopped.'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      // The thread with the least to do.
      let best: Worker | null = null;
      for (const w of this.all) if ((this.given.get(w) as Task[]).length < QUEUED_PER_THREAD && (!best || (this.given.get(w) as Task[]).length < (this.given.get(best) as Task[]).length)) best = w;
      if (!best) return;
      const task = this.queue.shift() as Task;
      (this.given.get(best) as Task[]).push(task);
      best.post({ type: 'decode', id: task.id, offset: task.offset, length: task.length, at: task.at });
    }
  }

  private settle(worker: Worker, reply: FromChunkWorker): void {
    const task = this.given.get(worker)?.shift();
    if (!task || task.id !== reply.id) return this.fail(new ImprintError('E_INTERNAL', 'A zstd decoding thread answered out of turn.'));
    if (reply.type === 'done') task.resolve({ bytes: reply.bytes, ...(reply.crc === undefined ? {} : { crc: reply.crc }) });
    else task.reject(fromErrorInfo(reply.error));
    this.pump();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const tasks of this.given.values()) for (const task of tasks.splice(0)) task.reject(err);
    for (const task of this.queue.splice(0)) task.reject(err);
  }
}
