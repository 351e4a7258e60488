/**
 * Worker thread that decodes one complete single-block .xz stream at a time
 * (built by xz-parallel-decoder from one block of a larger file) into an
 * ArrayBuffer of exactly the size the Index promised, and transfers it back.
 */
import { describeLzmaError, LZMA_FAULTS_NOT_DATA, memoryFor, XZ_BLOCK_WORKER } from '../formats/xz-block-protocol';
import { workerPort } from './worker-port';

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

const port = workerPort(XZ_BLOCK_WORKER);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lzma-native ships no type declarations
const lzma = require('lzma-native') as LzmaNative;
port.onMessage((msg) => {
  // Nothing else keeps this thread alive: closing the port lets it end by itself.
  if (msg.type === 'close') return port.close();
  try {
    const output = decodeBlock(lzma, msg.input, msg.inputLength, msg.expectedSize, msg.output, port.cancelFlag);
    // The input goes back too, to carry the next block's bytes.
    port.post({ type: 'done', id: msg.id, output, input: msg.input, reused: output === msg.output }, [output, msg.input]);
  } catch (e) {
    // lzma-native names its errors after liblzma's results (LZMA_DATA_ERROR...).
    const err = e instanceof Error ? e : new Error(String(e));
    const fault = err instanceof RangeError || LZMA_FAULTS_NOT_DATA.includes(err.name);
    const kind = err instanceof CancelledError ? 'cancelled' : fault ? 'failed' : 'corrupt';
    port.post({ type: 'error', id: msg.id, message: describeLzmaError(err), kind });
  }
});
