/**
 * Worker thread that decodes one complete single-block .xz stream at a time
 * (built by xz-parallel-decoder from one block of a larger file) into an
 * ArrayBuffer of exactly the size the Index promised, and transfers it back.
 */
import { parentPort, workerData } from 'node:worker_threads';

/**
 * Main thread to worker. A decode's `input` is transferred: the sender gives it up.
 * `close` asks the worker to exit once it is idle (see XzWorkerData for why).
 */
export type XzWorkerRequest =
  | {
    type: 'decode';
    id: number;
    /** The stream is its first `inputLength` bytes (buffers are reused, so they may be longer). */
    input: ArrayBuffer;
    inputLength: number;
    /** Uncompressed size from the original Index: the output must be exactly this long. */
    expectedSize: number;
    /** Memory to decode into when it is large enough: a block's output the main thread is done with. */
    output?: ArrayBuffer;
  }
  | { type: 'close' };

/** Worker to main thread, keyed by the request's id. `output` (holding `expectedSize` bytes at its start) and `input` are transferred. */
export type XzWorkerReply =
  | { type: 'done'; id: number; output: ArrayBuffer; input: ArrayBuffer; reused: boolean }
  | { type: 'error'; id: number; message: string; kind: 'corrupt' | 'cancelled' | 'failed' };

/**
 * `spare` when it holds `length` bytes, else new memory. Blocks are all the
 * same size but the last, so buffers passed back and forth between the
 * reader and the workers serve the whole file, instead of 24 MiB of fresh
 * memory per block for malloc to fragment (each thread has its own arena).
 */
export function memoryFor(spare: ArrayBuffer | undefined, length: number): ArrayBuffer {
  return spare !== undefined && spare.byteLength >= length ? spare : new ArrayBuffer(length);
}

/** liblzma's names for its results that are not about the data but about this machine or program. */
export const LZMA_FAULTS_NOT_DATA = ['LZMA_MEM_ERROR', 'LZMA_MEMLIMIT_ERROR', 'LZMA_PROG_ERROR'];

/**
 * Shared with the main thread. Worker.terminate() must not be used while this
 * worker is inside lzma-native: node-addon-api turns the failed N-API calls that
 * follow a termination into a fatal error that aborts the whole process
 * (measured: "FATAL ERROR: Error::Error napi_create_reference"). So the main
 * thread raises `cancel[0]`, which this worker checks between native calls, and
 * then sends `close`.
 */
export interface XzWorkerData {
  /** Marks a thread started as this worker: the module is also imported elsewhere, maybe in other workers. */
  role: 'xz-block-worker';
  cancel: SharedArrayBuffer;
}

/** The part of lzma-native's native stream this worker drives (the package ships no types). */
interface NativeLzmaStream {
  streamDecoder(options: { memlimit?: number; flags?: number }): void;
  setBufsize(size: number): number;
  code(input: Uint8Array | null, async: boolean): void;
  resetUnderlying(): void;
  bufferHandler: (buf: Buffer | null | undefined, processedChunks: number | undefined, err: Error | null | undefined) => void;
}
interface LzmaNative {
  Stream: new () => NativeLzmaStream;
}

/*
 * Input is fed in slices so that each synchronous native call stays short and
 * the cancel flag is looked at often: 256 KiB of input decodes in tens of ms.
 */
const FEED_SIZE = 256 * 1024;
/** Output buffer of each native call; larger means fewer small copies. */
const OUT_BUFSIZE = 1 << 20;

class CancelledError extends Error {}

/** Words for a person in place of liblzma's terse result strings; other messages are already plain. */
export function describeLzmaError(err: Error): string {
  switch (err.name) {
    case 'LZMA_BUF_ERROR': return 'it ends in the middle of its compressed data (the download may be incomplete)';
    case 'LZMA_DATA_ERROR': return 'its data is damaged (it fails its integrity check or disagrees with its recorded size)';
    case 'LZMA_FORMAT_ERROR': return 'it does not start like an .xz file';
    case 'LZMA_OPTIONS_ERROR': return 'it uses compression options this decoder does not support';
    default: return err.message;
  }
}

/**
 * Decodes a whole single-block stream. Runs liblzma synchronously on this worker's
 * own thread: lzma-native's async mode would only hop to libuv's pool, which the
 * main thread's file reads also need. Throws on any decode error and on a size
 * different from `expectedSize`.
 */
function decodeBlock(lzma: LzmaNative, input: ArrayBuffer, inputLength: number, expectedSize: number, reuse: ArrayBuffer | undefined, cancel: Int32Array): ArrayBuffer {
  const output = memoryFor(reuse, expectedSize);
  const view = new Uint8Array(output, 0, expectedSize);
  let written = 0;
  let ended = false;
  let failure: Error | null = null;

  const stream = new lzma.Stream();
  stream.streamDecoder({});
  stream.setBufsize(OUT_BUFSIZE);
  // In synchronous mode the handler runs inside code(): one call per output
  // buffer, then (buf === null) once at the end of the stream or on an error.
  stream.bufferHandler = (buf, _processed, err) => {
    if (failure || ended) return;
    if (err) failure = err;
    else if (buf === null) ended = true;
    else if (buf) {
      if (written + buf.length > expectedSize) failure = new Error(`it decodes to more than the ${expectedSize} bytes the index lists`);
      else {
        view.set(buf, written);
        written += buf.length;
      }
    }
  };
  try {
    for (let pos = 0; pos < inputLength && !failure && !ended; pos += FEED_SIZE) {
      if (Atomics.load(cancel, 0) !== 0) throw new CancelledError();
      stream.code(new Uint8Array(input, pos, Math.min(FEED_SIZE, inputLength - pos)), false);
    }
    // LZMA_FINISH: liblzma reports a stream that stops short instead of waiting for more.
    if (!failure && !ended) stream.code(null, false);
  } finally {
    stream.resetUnderlying();
  }
  if (failure) throw failure;
  if (!ended) throw new Error('its data ends early');
  if (written !== expectedSize) throw new Error(`it decodes to ${written} bytes, but the index lists ${expectedSize}`);
  return output;
}

const data = workerData as Partial<XzWorkerData> | null;
if (parentPort && data?.role === 'xz-block-worker' && data.cancel) {
  const port = parentPort;
  const cancel = new Int32Array(data.cancel);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lzma-native ships no type declarations
  const lzma = require('lzma-native') as LzmaNative;
  port.on('message', (msg: XzWorkerRequest) => {
    // Nothing else keeps this thread alive: closing the port lets it end by itself.
    if (msg.type === 'close') return port.close();
    let reply: XzWorkerReply;
    try {
      const output = decodeBlock(lzma, msg.input, msg.inputLength, msg.expectedSize, msg.output, cancel);
      // The input goes back too, to carry the next block's bytes.
      reply = { type: 'done', id: msg.id, output, input: msg.input, reused: output === msg.output };
      port.postMessage(reply, [output, msg.input]);
      return;
    } catch (e) {
      // lzma-native names its errors after liblzma's results (LZMA_DATA_ERROR...).
      const err = e instanceof Error ? e : new Error(String(e));
      const fault = err instanceof RangeError || LZMA_FAULTS_NOT_DATA.includes(err.name);
      const kind = err instanceof CancelledError ? 'cancelled' : fault ? 'failed' : 'corrupt';
      reply = { type: 'error', id: msg.id, message: describeLzmaError(err), kind };
    }
    port.postMessage(reply);
  });
}
