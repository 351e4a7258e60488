/**
 * Messages between the parallel .xz decoder (xz-parallel-decoder.ts) and its
 * threads (workers/xz-block-worker.ts), each of which decodes one complete
 * single-block .xz stream at a time, and what both sides share.
 */
import { workerKind } from '../worker-host';

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
 * The thread (workers/xz-block-worker.ts) starts with no data. It must not be
 * ended with terminate() while it is inside lzma-native: node-addon-api turns
 * the failed N-API calls that follow a termination into a fatal error that
 * aborts the whole process (measured: "FATAL ERROR: Error::Error
 * napi_create_reference"). So the decoder aborts the thread's signal, whose
 * flag the thread checks between native calls, and then sends `close`.
 */
export const XZ_BLOCK_WORKER = workerKind<XzWorkerRequest, XzWorkerReply, null>('xz-block-worker');

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
