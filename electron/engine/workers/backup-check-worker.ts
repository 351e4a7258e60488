import * as fs from 'fs';
import * as zlib from 'zlib';
import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError, classifyReadError, errnoOf } from '../errors';
import { allocAligned, alignUp } from '../io/aligned-buffer';
import { ChunkCrcStream, isAllZero } from '../io/chunk-crc';
import { readFully } from '../io/full-io';
import { workerPort } from './worker-port';
import { describeLzmaError } from '../formats/xz-block-protocol';
import { SEEKABLE_FRAME_SIZE, SeekableFrameEncoder } from '../formats/zstd-seekable-writer';
import { BACKUP_CHECK_WORKER } from './backup-messages';

/**
 * Reads the backup file back while it is being written, a little behind the
 * writer: every byte the writer reports as on disk is read again (O_DIRECT,
 * so from the disk, not from memory), decompressed by a decoder independent
 * of the encoder, and each chunk's CRC-32 taken, to be compared with the
 * CRC-32s taken while reading the drive (a second SHA-256 of the whole
 * content cost 0.6 s of CPU per GiB, on cores the compressor needs, and
 * could only say "different", not where). When the writer finishes, only the last few MiB
 * remain to check, so the verification costs little wall time yet is a real
 * second read of the file.
 *
 * A zstd backup is not read back here: its writer reads the file back itself
 * and compares it byte for byte with what it wrote (io/read-back-output.ts).
 * That is enough because the writer also shows, chunk by chunk, that what
 * it compressed is what was read from the drive (each frame's thread takes
 * the CRC-32 of its input from the ring just before compressing it); the
 * ready-made frame of zeros that stands for free space is shown to decode to
 * zeros once when it is made (formats/zstd-seekable-writer.ts); and what is
 * left, libzstd producing a frame that does not decode to its input, is what
 * libzstd is fuzzed for upstream, and every frame carries its content
 * checksum, which `zstd -t` and every restore verify before a byte reaches a
 * drive. Decoding every data frame again was a fifth of the smart backup's
 * CPU (0.8-1 s of 5 s on the bench drive).
 */
const port = workerPort(BACKUP_CHECK_WORKER);
const data = port.data;
const READ = 4 << 20;

interface Decoder {
  push(input: Buffer): Promise<void> | void;
  /** Throws when the stream is incomplete (a truncated file). */
  end(): Promise<void> | void;
  close(): void;
}

const crcs = new ChunkCrcStream(data.chunkSize);
let contentBytes = 0;
const onOutput = (buf: Buffer): void => {
  crcs.update(buf);
  contentBytes += buf.length;
};

/**
 * The writer's frame of SEEKABLE_FRAME_SIZE zeros at `level`, once this
 * thread's own decoder has shown that it gives exactly that many zeros; null
 * if it does not (then every frame is decoded, and a bad zero frame fails the
 * check as any other would).
 */
function provenZeroFrame(z: typeof ZstdBinding, level: number): Buffer | null {
  const frame = Buffer.from(new SeekableFrameEncoder(level).zeroFrame(SEEKABLE_FRAME_SIZE).bytes);
  const out = Buffer.alloc(SEEKABLE_FRAME_SIZE + 1, 1);
  const [ret, produced, consumed] = new z.DCtx().decompressStream(out, frame);
  return ret === 0 && consumed === frame.length && produced === SEEKABLE_FRAME_SIZE && isAllZero(out.subarray(0, produced)) ? frame : null;
}

function zstdDecoder(): Decoder {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded on this thread only
  const z = require('zstd-napi/binding') as typeof ZstdBinding;
  const dctx = new z.DCtx();
  const out = Buffer.allocUnsafe(4 << 20);
  // Free space is most of a drive and all of it is this one frame: where a
  // frame starts with exactly its bytes, the frame is those bytes (a frame
  // delimits itself), so it stands for zeros without being decoded and
  // scanned (about 0.5 s of CPU on the smart bench drive's 2.3 GiB of free space).
  const zeroFrame = data.level === undefined ? null : provenZeroFrame(z, data.level);
  let remaining = 0;
  return {
    push(input) {
      let src: Buffer = input;
      for (;;) {
        // 0: between frames. A zero frame split across two reads is simply decoded.
        if (remaining === 0 && zeroFrame) {
          while (src.length >= zeroFrame.length && src.compare(zeroFrame, 0, zeroFrame.length, 0, zeroFrame.length) === 0) {
            crcs.zeros(SEEKABLE_FRAME_SIZE);
            contentBytes += SEEKABLE_FRAME_SIZE;
            src = src.subarray(zeroFrame.length);
          }
          if (src.length === 0) return;
        }
        const [ret, produced, consumed] = dctx.decompressStream(out, src);
        if (produced > 0) onOutput(out.subarray(0, produced));
        src = src.subarray(consumed);
        remaining = ret;
        // A full output buffer may hold back more: call again even with no input left.
        if (src.length === 0 && produced < out.length) return;
      }
    },
    end() {
      // 0: the last frame (Imprint's metadata frame included) ended exactly at the end of the file.
      if (remaining !== 0) throw new Error('the zstd data ends in the middle of a frame');
    },
    close() {},
  };
}

function gzipDecoder(): Decoder {
  const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
  gunzip.on('data', onOutput);
  // A decoding error destroys the stream: pending write callbacks may never come, so every wait races it.
  const failed = new Promise<never>((_, reject) => gunzip.once('error', reject));
  failed.catch(() => {});
  const ended = new Promise<void>((resolve) => gunzip.once('end', resolve));
  return {
    push: (input) => Promise.race([new Promise<void>((resolve) => gunzip.write(input, () => resolve())), failed]),
    async end() {
      gunzip.end();
      await Promise.race([ended, failed]);
    },
    close: () => gunzip.destroy(),
  };
}

/** The slice of lzma-native's native stream used here (the package ships no types). */
interface NativeLzmaStream {
  streamDecoder(options: { memlimit?: number; flags?: number }): void;
  setBufsize(size: number): number;
  code(input: Uint8Array | null, async: boolean): void;
  resetUnderlying(): void;
  bufferHandler: (buf: Buffer | null | undefined, processedChunks: number | undefined, err: Error | null | undefined) => void;
}

function xzDecoder(): Decoder {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lzma-native ships no type declarations
  const lzma = require('lzma-native') as { Stream: new () => NativeLzmaStream };
  const stream = new lzma.Stream();
  stream.streamDecoder({});
  stream.setBufsize(1 << 20);
  let failure: Error | null = null;
  let ended = false;
  // Synchronous mode: the handler runs inside code(), per output buffer, then with null at the end.
  stream.bufferHandler = (buf, _processed, err) => {
    if (err) failure ??= err;
    else if (buf === null) ended = true;
    else if (buf && !failure) onOutput(buf);
  };
  const check = (): void => {
    if (failure) throw failure;
  };
  return {
    push(input) {
      // liblzma's native calls cannot take shared memory: copy.
      stream.code(Buffer.from(input), false);
      check();
    },
    end() {
      if (!ended) stream.code(null, false);
      check();
      if (!ended) throw new Error('the xz data ends before its end-of-stream marker');
    },
    close: () => stream.resetUnderlying(),
  };
}

function rawDecoder(): Decoder {
  return { push: (input) => onOutput(input), end() {}, close() {} };
}

function openForCheck(file: string): number {
  try {
    return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (err) {
    // tmpfs and some others refuse O_DIRECT: there the page cache is the storage.
    if (errnoOf(err) === 'EINVAL') return fs.openSync(file, 'r');
    throw err;
  }
}

const { cancelFlag, cancelled } = port;
let available = 0;
let finalSize: number | null = null;
let pos = 0;
let busy = false;
let decoder: Decoder | null = null;
let fd = -1;
const buf = allocAligned(READ);

/** Checks whatever the writer has made durable since last time; ends the check once the file is final. */
async function pump(): Promise<void> {
  if (busy || !decoder) return;
  busy = true;
  try {
    for (;;) {
      if (cancelled()) return;
      // A raw backup's file grows with its data, its trailing holes appear only at the end: read what exists.
      const limit = finalSize ?? (data.compression === 'none' ? Math.min(available, fs.fstatSync(fd).size) : available);
      if (pos >= limit) break;
      const want = Math.min(READ, limit - pos);
      let n: number;
      try {
        n = readFully(fd, buf, 0, alignUp(want), pos);
      } catch (err) {
        throw classifyReadError(err, data.file, pos);
      }
      if (n < want) throw new ImprintError('E_VERIFY_SHORT', `${data.file} holds fewer bytes than were written to it (it ends at ${pos + n}, ${limit} were written).`, { offset: pos + n });
      await decoder.push(buf.subarray(0, want));
      pos += want;
      port.post({ type: 'progress', contentBytes });
      // Let 'available', 'final' and 'stop' messages in between reads.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (finalSize !== null && pos >= finalSize) {
      await decoder.end();
      port.post({ type: 'done', contentBytes, crcs: crcs.end() });
      port.close();
      finish();
    }
  } finally {
    busy = false;
  }
}

function finish(): void {
  decoder?.close();
  decoder = null;
  if (fd >= 0) fs.closeSync(fd);
  fd = -1;
}

let failed = false;

// After its last message (done, stopped or error) the thread closes its port
// and ends by itself, its decoder closed, rather than being terminated:
// terminating a thread that has lzma-native loaded can abort the process
// (compress-writer-worker.ts says how that was measured).

/** Reports the first failure: an OS error reading the file, or the decoder's verdict on its content. */
function fail(err: unknown): void {
  if (failed) return;
  failed = true;
  finish();
  // Read errors arrive classified; anything else is the decoder's verdict on the content.
  const why = err instanceof Error ? (err.name.startsWith('LZMA_') ? describeLzmaError(err) : err.message) : String(err);
  const error = err instanceof ImprintError ? err.toInfo() : new ImprintError('E_VERIFY_MISMATCH', `The backup file does not read back as what was written: ${why}.`, { offset: pos }).toInfo();
  port.post({ type: 'error', error });
  port.close();
}

port.onMessage((msg) => {
  if (msg.type === 'stop') {
    Atomics.store(cancelFlag, 0, 1);
    // Wait for a read or decode in progress to return before closing what it uses.
    const close = (): void => {
      if (busy) setTimeout(close, 10);
      else {
        finish();
        port.post({ type: 'stopped' });
        port.close();
      }
    };
    close();
    return;
  }
  if (failed) return;
  if (msg.type === 'available') available = Math.max(available, msg.bytes);
  else if (msg.type === 'final') finalSize = msg.bytes;
  pump().catch(fail);
});

try {
  fd = openForCheck(data.file);
  decoder = data.compression === 'zstd' ? zstdDecoder() : data.compression === 'gzip' ? gzipDecoder() : data.compression === 'xz' ? xzDecoder() : rawDecoder();
} catch (err) {
  fail(err);
}
