/**
 * Decodes multi-block .xz files (what `xz -T0` writes) on several threads.
 * liblzma 5.2, which lzma-native bundles, decodes on one thread only; but each
 * block of an .xz stream is independent, and the Index lists where each starts
 * and how large it decodes. So each block is wrapped into a single-block stream
 * of its own and decoded in a worker; results are delivered in file order.
 */
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { classifyReadError, ImprintError } from '../errors';
import { followedFile } from '../io/growing-file';
import { openFileStream } from '../io/growing-read-stream';
import { spawnWorker, type TypedWorker } from '../worker-host';
import { describeLzmaError, LZMA_FAULTS_NOT_DATA, memoryFor, XZ_BLOCK_WORKER, type XzWorkerReply, type XzWorkerRequest } from './xz-block-protocol';
import { readExactly, readXzIndex, singleBlockStreamParts, XzCorruptSourceError, type XzBlockInfo, type XzIndex } from './xz-index';

export { XzCorruptSourceError } from './xz-index';

/** Decoding stopped because the caller's AbortSignal fired. */
function cancelled(signal?: AbortSignal): ImprintError {
  return new ImprintError('E_CANCELLED', 'Decompression was cancelled.', { cause: signal?.reason });
}

/** A worker died or ran out of memory: a fault of this program or the machine, not of the file. */
function decoderFailed(detail: string, cause?: unknown): ImprintError {
  return new ImprintError('E_INTERNAL', `The .xz decoder failed: ${detail}`, { cause });
}

export interface XzDecodeOptions {
  /** Worker threads; defaults to the number of CPUs the process may use. */
  threads?: number;
  /**
   * The consumer copies each chunk before it asks for the next one, so a
   * block's memory may carry a later block once all its chunks are out.
   * Without it every block gets fresh memory (a consumer may keep chunks).
   */
  transient?: boolean;
  signal?: AbortSignal;
}

/*
 * Blocks whose uncompressed size exceeds this are not decoded in parallel: each
 * in-flight block is held whole in memory. xz's default blocks are 3x the
 * dictionary (24 MiB at -6, 192 MiB at -9), well under it.
 */
const MAX_PARALLEL_BLOCK = 256 * 1024 * 1024;
/** Blocks beyond `threads` in flight are only started while their outputs fit in this budget. */
const EXTRA_BLOCKS_BUDGET = 32 * 1024 * 1024;
/** Output is handed out in views of at most this size, so a consumer's progress moves smoothly. */
const YIELD_CHUNK = 4 * 1024 * 1024;

let liveWorkers = 0;
/** Number of decoder worker threads currently alive in this process (for tests and diagnostics). */
export function liveXzWorkerCount(): number {
  return liveWorkers;
}

let reusedOutputs = 0;
/** Blocks decoded into memory an earlier block had used, in this process so far (for tests and diagnostics). */
export function xzReusedOutputCount(): number {
  return reusedOutputs;
}

/**
 * Decodes a multi-block .xz file with `threads` worker threads; yields decompressed
 * chunks in order. A file with one block, or whose Index cannot be used, is decoded
 * as a plain stream by lzma-native on one thread (correct, slower).
 *
 * Rejects with an {@link ImprintError}: E_CORRUPT_SOURCE when the file is truncated
 * or corrupt (a {@link XzCorruptSourceError}), E_CANCELLED when `signal` fires,
 * E_SOURCE_NOT_FOUND / E_SOURCE_UNREADABLE / a read error class from
 * classifyReadError when the file cannot be opened or read, E_INTERNAL when a
 * worker fails. Workers are
 * shut down when iteration ends in any way, including an early `break`; a consumer
 * that stops calling next() without return() leaves the file open until collected.
 */
export async function* decodeXzParallel(filePath: string, opts: XzDecodeOptions = {}): AsyncIterable<Buffer> {
  const { signal } = opts;
  throwIfAborted(signal);
  const handle = await fs.promises.open(filePath, 'r').catch((err: NodeJS.ErrnoException) => {
    const code = err.code === 'ENOENT' ? 'E_SOURCE_NOT_FOUND' : 'E_SOURCE_UNREADABLE';
    throw new ImprintError(code, `Cannot open ${filePath}: ${err.message}`, { cause: err });
  });
  try {
    let index: XzIndex | null = null;
    let indexProblem: unknown = null;
    // A file still downloading has no Index yet (it is at the end): decoded as a stream as it arrives.
    if (followedFile(filePath)) {
      yield* decodeAsStream(filePath, handle, signal, null);
      return;
    }
    try {
      index = await readXzIndex(handle);
    } catch (err) {
      // Not fatal by itself: the stream decoder needs no Index, and finds the
      // damage where it is. See decodeAsStream for what happens to this error.
      indexProblem = err;
    }
    throwIfAborted(signal);
    const parallel = index && index.blocks.length > 1 && index.blocks.every((b) => b.uncompressedSize <= MAX_PARALLEL_BLOCK);
    if (index && parallel) yield* decodeBlocks(filePath, handle, index, opts);
    else yield* decodeAsStream(filePath, handle, signal, indexProblem instanceof XzCorruptSourceError ? indexProblem : null);
  } finally {
    // Waits for reads still in flight (FileHandle counts them), so no read lands on a reused descriptor.
    await handle.close();
  }
}

/** Total uncompressed size according to the file's Index; null if the Index is unreadable. */
export async function xzUncompressedSize(filePath: string): Promise<number | null> {
  try {
    return (await readXzIndex(filePath)).uncompressedSize;
  } catch {
    return null;
  }
}

async function* decodeBlocks(
  filePath: string, file: fs.promises.FileHandle, index: XzIndex, opts: XzDecodeOptions,
): AsyncGenerator<Buffer> {
  const { signal } = opts;
  const wanted = opts.threads !== undefined && opts.threads >= 1 ? Math.floor(opts.threads) : availableParallelism();
  const threads = Math.min(wanted, index.blocks.length);
  const pool = new WorkerPool(threads);
  // Cancelling must stop the workers even while the consumer is busy with a chunk.
  const onAbort = () => void pool.destroy(cancelled(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  const inFlight: Array<{ block: XzBlockInfo; result: Promise<Decoded> }> = [];
  // Buffers handed back and forth between this thread and the workers (see decodeBlock in workers/xz-block-worker.ts).
  const spareOutputs: ArrayBuffer[] = [];
  const spareInputs: ArrayBuffer[] = [];
  let next = 0;
  let bytesInFlight = 0;
  let previousRead: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      // Keep every worker busy, plus one block read ahead or waiting to be consumed (memory: each is up to 3x its size while decoded).
      while (next < index.blocks.length && inFlight.length < threads + 1) {
        const block = index.blocks[next]!;
        if (inFlight.length >= threads && bytesInFlight + block.uncompressedSize > EXTRA_BLOCKS_BUDGET) break;
        const number = ++next;
        // Reads go one after another, so blocks reach the workers in file order and the file is read sequentially.
        const input = previousRead.then(() => readBlockStream(file, index, block, spareInputs.pop()));
        previousRead = input.catch(() => undefined);
        const result = input
          .then((stream) => pool.run(stream.memory, stream.length, block.uncompressedSize, spareOutputs.pop()))
          .catch((err: unknown) => {
            if (err instanceof BlockCorruptError) throw locate(err, block, number, index.blocks.length);
            // Anything else not already classified comes from reading the file.
            throw err instanceof ImprintError ? err : classifyReadError(err, filePath, block.compressedOffset);
          });
        result.catch(() => undefined); // awaited in order below; this only keeps an early failure from being "unhandled"
        inFlight.push({ block, result });
        bytesInFlight += block.uncompressedSize;
      }
      const head = inFlight.shift();
      if (!head) return;
      const { output, input } = await withAbort(head.result, signal);
      const length = head.block.uncompressedSize;
      bytesInFlight -= length;
      spareInputs.push(input);
      // The worker checks the decoded size exactly; checked here too because memory too short would shift the whole image.
      if (output.byteLength < length) throw decoderFailed('a block came back with the wrong size');
      for (let pos = 0; pos < length; pos += YIELD_CHUNK) {
        yield Buffer.from(output, pos, Math.min(YIELD_CHUNK, length - pos));
      }
      // The consumer has copied every view (it said so): the memory can carry another block.
      if (opts.transient) spareOutputs.push(output);
      throwIfAborted(signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await pool.destroy(cancelled());
  }
}

/** A worker's report that a block's bytes are bad; `locate` turns it into the error a person reads (offset: in the image). */
class BlockCorruptError extends Error {}

function locate(err: BlockCorruptError, block: XzBlockInfo, number: number, count: number): XzCorruptSourceError {
  const last = block.uncompressedOffset + block.uncompressedSize - 1;
  return new XzCorruptSourceError(
    `block ${number} of ${count} (at byte ${block.compressedOffset} of the file; image bytes ${block.uncompressedOffset} to ${last}): ${err.message}`,
    { cause: err, offset: block.uncompressedOffset },
  );
}

/** A decoded block, at the start of memory that may be longer than it (reused). */
interface Decoded {
  output: ArrayBuffer;
  /** The input memory, back from the worker for the next block. */
  input: ArrayBuffer;
}

/** One block wrapped as a complete single-block stream, in one buffer ready to transfer (`spare` when it is large enough). */
async function readBlockStream(file: fs.promises.FileHandle, index: XzIndex, block: XzBlockInfo, spare: ArrayBuffer | undefined): Promise<{ memory: ArrayBuffer; length: number }> {
  const { header, trailer } = singleBlockStreamParts(block, index.streams[block.streamIndex]!.flags);
  const length = header.length + block.totalSize + trailer.length;
  const memory = memoryFor(spare, length);
  const whole = Buffer.from(memory, 0, length);
  header.copy(whole, 0);
  await readExactly(file, block.compressedOffset, block.totalSize, whole, header.length);
  trailer.copy(whole, header.length + block.totalSize);
  return { memory, length };
}

/**
 * The single-threaded path: lzma-native's stream decoder, which also handles
 * concatenated streams. If the Index was found invalid (`indexProblem`) and yet
 * the stream decoder ends without complaint, the Index's error is raised at the
 * end: lzma-native's wrapper skips stray zero bytes, so a file of zeros would
 * otherwise "decode" to nothing, and a valid .xz file always has a valid Index.
 */
async function* decodeAsStream(
  filePath: string, file: fs.promises.FileHandle, signal: AbortSignal | undefined, indexProblem: XzCorruptSourceError | null,
): AsyncGenerator<Buffer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lzma-native ships no type declarations
  const lzma = require('lzma-native') as { createDecompressor(): NodeJS.ReadWriteStream & { destroy(err?: Error): void } };
  const input = followedFile(filePath) ? openFileStream(filePath, { highWaterMark: 1 << 20 }) : file.createReadStream({ start: 0, highWaterMark: 1 << 20, autoClose: false });
  const decoder = lzma.createDecompressor();
  const onAbort = () => decoder.destroy(cancelled(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  input.on('error', (err: Error) => decoder.destroy(err));
  input.pipe(decoder);
  try {
    for await (const chunk of decoder as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    if (err instanceof ImprintError) throw err;
    if ((err as NodeJS.ErrnoException).syscall) throw classifyReadError(err, filePath, (input as { bytesRead?: number }).bytesRead ?? 0);
    const error = err instanceof Error ? err : new Error(String(err));
    if (LZMA_FAULTS_NOT_DATA.includes(error.name)) throw decoderFailed(error.message, error);
    throw new XzCorruptSourceError(describeLzmaError(error), { cause: error });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    input.destroy();
    decoder.destroy();
  }
  if (indexProblem) throw indexProblem;
}

type Task = { input: ArrayBuffer; inputLength: number; expectedSize: number; output: ArrayBuffer | undefined; resolve(decoded: Decoded): void; reject(err: Error): void };

/*
 * How long destroy() waits for a worker to leave its current native call and
 * exit. A slice of input takes tens of ms; a worker slower than this is stuck,
 * and is then left to exit by itself, unref'd, rather than terminated (which
 * would abort the process, see XZ_BLOCK_WORKER).
 */
const CLOSE_TIMEOUT_MS = 5000;

/** A fixed set of workers, one task each at a time; tasks beyond that wait in order. */
type XzWorker = TypedWorker<XzWorkerRequest, XzWorkerReply>;

class WorkerPool {
  private readonly idle: XzWorker[] = [];
  private readonly waiting: Task[] = [];
  private readonly tasks = new Map<XzWorker, Task>();
  private readonly alive = new Map<XzWorker, Promise<void>>();
  /** Raises every thread's cancel flag: they check it between native calls. */
  private readonly cancel = new AbortController();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private nextId = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  run(input: ArrayBuffer, inputLength: number, expectedSize: number, output: ArrayBuffer | undefined): Promise<Decoded> {
    return new Promise<Decoded>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const task: Task = { input, inputLength, expectedSize, output, resolve, reject };
      const worker = this.idle.pop();
      if (worker) this.start(worker, task);
      else this.waiting.push(task);
    });
  }

  /** Fails every task, now and from now on, with `reason`; resolves once the workers have exited. */
  destroy(reason: Error): Promise<void> {
    this.failure ??= reason;
    this.cancel.abort();
    for (const task of [...this.tasks.values(), ...this.waiting]) task.reject(this.failure);
    this.tasks.clear();
    this.waiting.length = 0;
    this.closing ??= Promise.all([...this.alive].map(([w, exited]) => this.close(w, exited))).then(() => undefined);
    return this.closing;
  }

  private close(worker: XzWorker, exited: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      // Keep the process up until the worker is out of native code: exiting would terminate it there.
      worker.ref();
      const timer = setTimeout(() => resolve(void worker.unref()), CLOSE_TIMEOUT_MS).unref();
      void exited.then(() => resolve(clearTimeout(timer)));
      worker.post({ type: 'close' });
    });
  }

  private spawn(): void {
    const worker = spawnWorker(XZ_BLOCK_WORKER, null, { signal: this.cancel.signal });
    liveWorkers++;
    let exited!: () => void;
    this.alive.set(worker, new Promise<void>((resolve) => (exited = resolve)));
    worker.onMessage((reply) => {
      const task = this.tasks.get(worker);
      this.tasks.delete(worker);
      if (reply.type === 'done') {
        if (reply.reused) reusedOutputs++;
        task?.resolve({ output: reply.output, input: reply.input });
      }
      else if (reply.kind === 'corrupt') task?.reject(new BlockCorruptError(reply.message));
      else task?.reject(decoderFailed(reply.message));
      this.release(worker);
    });
    // An exception escaping the worker, or its death, is a bug or a resource limit: fail everything.
    worker.onError((err) => void this.destroy(decoderFailed(err.message, err)));
    worker.onExit(() => {
      liveWorkers--;
      this.alive.delete(worker);
      exited();
      if (!this.failure) void this.destroy(decoderFailed('a worker thread exited unexpectedly'));
    });
    worker.unref();
    this.idle.push(worker);
  }

  private start(worker: XzWorker, task: Task): void {
    this.tasks.set(worker, task);
    // A busy worker keeps the process alive until its answer arrives; an idle one must not.
    worker.ref();
    const { input, inputLength, expectedSize, output } = task;
    const transfer = output ? [input, output] : [input];
    worker.post({ type: 'decode', id: this.nextId++, input, inputLength, expectedSize, ...(output ? { output } : {}) }, transfer);
  }

  private release(worker: XzWorker): void {
    if (this.failure) return;
    const task = this.waiting.shift();
    if (task) return this.start(worker, task);
    worker.unref();
    this.idle.push(worker);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled(signal);
}

/** Settles with `promise`, or rejects as soon as `signal` fires. */
function withAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
