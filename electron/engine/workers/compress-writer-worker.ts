import * as zlib from 'zlib';
import { ImprintError, toErrorInfo } from '../errors';
import { chunkCrc, isAllZero, zeroCrc } from '../io/chunk-crc';
import { ZstdFramePool } from '../formats/zstd-frame-pool';
import { SEEKABLE_FRAME_SIZE, SeekableFrameEncoder, SeekableZstdWriter, type EncodedFrame } from '../formats/zstd-seekable-writer';
import { workerPort } from './worker-port';
import { COMPRESS_WRITER_WORKER, type ToCompressWriter } from './backup-messages';
import { CompressedOutput, SparseOutput } from '../io/output-file';
import { ReadBackOutput } from '../io/read-back-output';

/**
 * Compresses the ring's slots and writes the backup file, on its own thread
 * (the encoders' own threads do the heavy work where they have them), while
 * the source worker goes on reading the drive.
 *
 * - zstd: zstd's seekable format (formats/zstd-seekable-writer.ts):
 *   independent 2 MiB frames with checksums, compressed on `threads` threads
 *   straight from the ring (formats/zstd-frame-pool.ts), then the metadata
 *   frame and the seek table, so a range of the drive can later be read
 *   without decoding what comes before it. All-zero frames are ready-made.
 * - gzip: each slot becomes one gzip member, compressed in libuv's thread pool
 *   several at a time (pigz's idea); members are written in order. A file of
 *   several members is standard gzip (RFC 1952): gzip -dc concatenates them.
 * - xz: liblzma's multi-threaded encoder, run synchronously on this thread.
 * - none: a sparse raw file.
 */
const port = workerPort(COMPRESS_WRITER_WORKER);
const data = port.data;
const { ring } = data;
const { cancelled } = port;
const slotView = (slot: number): Buffer => Buffer.from(ring.memory, slot * ring.slotSize, ring.slotSize);

let encoder: Encoder | null = null;
let failed = false;
let chain: Promise<void> = Promise.resolve();

/** The first failure closes the file and is reported; later ones are its echoes. */
function fail(err: unknown): void {
  if (failed) return;
  failed = true;
  encoder?.close();
  port.post({ type: 'error', error: toErrorInfo(err) });
}

/** Zeros that stand for a smart backup's free space, made once, as long as a slot. */
let zeroChunk: Buffer | null = null;
const zeros = (length: number): Buffer => (zeroChunk ??= Buffer.alloc(ring.slotSize)).subarray(0, length);

/**
 * A slot is written; `contentCrc` is the CRC-32 of what the encoder took in, where it reports one (zstd),
 * `contentXxh` its frame's content checksum where the slot was one frame from the pool.
 */
type Done = (contentCrc?: number, contentXxh?: number) => void;

interface Encoder {
  /** Takes a slot's bytes; calls `done` once the slot may be reused (now or later). */
  write(buf: Buffer, length: number, offset: number, done: Done): void;
  /** Takes `length` zero bytes (no slot), in order with the writes; calls `done` once they are written. */
  zeros(length: number, offset: number, done: Done): void;
  /** Ends the stream after every write is through, appends `trailer`, makes the file durable; returns its size. */
  finish(totalBytes: number, trailer: Uint8Array | null): Promise<number>;
  outputBytes(): number;
  /** Bytes at the start of the file that are written out and may be read back. */
  durableBytes(): number;
  /** zstd: bytes at the start of the file read back and found as written (io/read-back-output.ts). */
  checkedBytes?(): number;
  /** zstd, after finish(): reads back the rest of the file; rejects if it is not what was written. */
  checkRest?(): Promise<void>;
  close(): void;
}

function zstdEncoder(): Encoder {
  // The file reads itself back as it is written (io/read-back-output.ts), and each chunk's content
  // CRC as compressed ties what was compressed to what was read from the drive (backup-pipeline.ts).
  const out = new ReadBackOutput(data.output);
  const writer = new SeekableZstdWriter((bytes) => out.append(bytes), { level: data.level });
  // Frames of a slot compress on the pool's threads, this one among them (ZstdFramePool's `local`),
  // straight from the ring; they are written in order.
  const pool = data.threads > 1 ? new ZstdFramePool(data.threads, data.level, ring.memory, SEEKABLE_FRAME_SIZE, true, { local: true }) : null;
  let tail: Promise<void> = Promise.resolve();
  let stopped = false;
  let zeroEncoder: SeekableFrameEncoder | null = null;
  /** Waits, if it must, until the file's blocks read back make room for `bytes` more. */
  const room = async (bytes: number): Promise<void> => {
    if (!out.hasRoom(bytes)) await out.room(bytes);
  };
  /** Runs `step` after every earlier one: the file is written in drive order. */
  const inTurn = (step: () => Promise<void> | void): void => {
    tail = tail.then(step);
    tail.catch((err: unknown) => {
      if (!stopped) fail(err);
    });
  };
  return {
    write(buf, length, _offset, done) {
      if (!pool) {
        // One thread: compressed here, all-zero frames (free space) taken ready-made.
        inTurn(async () => {
          // A frame of incompressible bytes grows a little (libzstd's compressBound: well under 1 %).
          await room(length + (length >> 7) + 4096);
          if (stopped) return;
          const crc = chunkCrc(buf.subarray(0, length));
          writer.write(buf.subarray(0, length));
          done(crc);
        });
        return;
      }
      // A slot of one frame has its CRC taken by the frame's thread; otherwise here, before any frame starts.
      const slotCrc = length > SEEKABLE_FRAME_SIZE ? chunkCrc(buf.subarray(0, length)) : undefined;
      const frames: Promise<EncodedFrame>[] = [];
      for (let at = 0; at < length; at += SEEKABLE_FRAME_SIZE) {
        const frame = pool.encode(buf.byteOffset + at, Math.min(SEEKABLE_FRAME_SIZE, length - at));
        frame.catch(() => {});
        frames.push(frame);
      }
      inTurn(async () => {
        let crc = slotCrc;
        let xxh: number | undefined;
        for (const frame of frames) {
          const encoded = await frame;
          if (stopped) return;
          crc ??= encoded.contentCrc;
          if (frames.length === 1) xxh = encoded.checksum;
          await room(encoded.bytes.length);
          if (stopped) return;
          writer.appendFrame(encoded);
        }
        done(crc, xxh);
      });
    },
    zeros(length, _offset, done) {
      // Ready-made zero frames (SeekableFrameEncoder keeps them), appended here in their turn: no thread round trip.
      const encoder = pool ? (zeroEncoder ??= new SeekableFrameEncoder(data.level)) : null;
      inTurn(async () => {
        if (!encoder) {
          await room(length + (length >> 7) + 4096);
          if (stopped) return;
          writer.write(zeros(length));
          done(zeroCrc(length));
          return;
        }
        for (let at = 0; at < length; at += SEEKABLE_FRAME_SIZE) {
          const frame = encoder.zeroFrame(Math.min(SEEKABLE_FRAME_SIZE, length - at));
          await room(frame.bytes.length);
          if (stopped) return;
          writer.appendFrame(frame);
        }
        done(zeroCrc(length));
      });
    },
    async finish(_totalBytes, trailer) {
      await tail;
      // The file's end is read back once it is final (checkRest), not as it is written.
      out.hold();
      // The metadata frame goes before the seek table, which must end the file; the table lists it.
      if (trailer) writer.appendSkippable(trailer);
      writer.finish();
      void pool?.close();
      return out.finish();
    },
    outputBytes: () => out.bytes,
    durableBytes: () => out.durable,
    checkedBytes: () => out.checked,
    checkRest: () => out.checkRest(),
    close: () => {
      stopped = true;
      void pool?.close();
      out.close();
    },
  };
}

function gzipEncoder(): Encoder {
  const out = new CompressedOutput(data.output);
  const zeroMembers = new Map<number, Promise<Buffer>>();
  const zeroMember = (length: number): Promise<Buffer> => {
    let member = zeroMembers.get(length);
    if (!member) {
      member = Promise.resolve(zlib.gzipSync(Buffer.alloc(length), { level: data.level }));
      zeroMembers.set(length, member);
    }
    return member;
  };
  let tail: Promise<void> = Promise.resolve();
  let stopped = false;
  return {
    write(buf, length, _offset, done) {
      // Start compressing now; write results strictly in order. Free space (all
      // zeros) takes a member made once, as the zstd encoder does with frames.
      const input = buf.subarray(0, length);
      const member = isAllZero(input)
        ? zeroMember(length)
        : new Promise<Buffer>((resolve, reject) => zlib.gzip(input, { level: data.level, chunkSize: 1 << 20 }, (err, res) => (err ? reject(err) : resolve(res))));
      member.catch(() => {});
      tail = tail.then(async () => {
        const bytes = await member;
        if (stopped) return;
        out.append(bytes);
        done();
      });
      tail.catch((err: unknown) => {
        if (!stopped) fail(err);
      });
    },
    zeros(length, offset, done) {
      this.write(zeros(length), length, offset, done);
    },
    async finish(_totalBytes, trailer) {
      await tail;
      if (trailer) out.append(trailer);
      return out.finish();
    },
    outputBytes: () => out.bytes,
    durableBytes: () => out.durable,
    close: () => {
      stopped = true;
      out.close();
    },
  };
}

/** The slice of lzma-native's native stream used here (the package ships no types). */
interface NativeLzmaStream {
  mtEncoder_(options: { preset: number; filters: null; check: number; threads: number }): void;
  setBufsize(size: number): number;
  code(input: Uint8Array | null, async: boolean): void;
  resetUnderlying(): void;
  bufferHandler: (buf: Buffer | null | undefined, processedChunks: number | undefined, err: Error | null | undefined) => void;
}

/** Input per native call: a few hundred ms of xz work at most. */
const XZ_FEED = 1 << 20;

function xzEncoder(): Encoder {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lzma-native ships no type declarations
  const lzma = require('lzma-native') as { Stream: new () => NativeLzmaStream; CHECK_CRC64: number };
  const out = new CompressedOutput(data.output);
  const stream = new lzma.Stream();
  stream.mtEncoder_({ preset: data.level, filters: null, check: lzma.CHECK_CRC64, threads: Math.max(1, data.threads) });
  stream.setBufsize(1 << 20);
  let failure: Error | null = null;
  let ended = false;
  // Synchronous mode: the handler runs inside code(), once per output buffer, then with null at the end.
  stream.bufferHandler = (buf, _processed, err) => {
    if (err) failure ??= err;
    else if (buf === null) ended = true;
    else if (buf && !failure) out.append(buf);
  };
  const check = (): void => {
    if (failure) throw new ImprintError('E_INTERNAL', `The xz encoder failed: ${failure.message}`);
  };
  return {
    write(buf, length, _offset, done) {
      // liblzma's native calls cannot take shared memory: one copy of the slot,
      // fed in pieces so that a cancel is seen within a fraction of a second.
      const copy = Buffer.from(buf.subarray(0, length));
      for (let at = 0; at < length && !cancelled(); at += XZ_FEED) {
        stream.code(copy.subarray(at, Math.min(length, at + XZ_FEED)), false);
        check();
      }
      done();
    },
    zeros(length, offset, done) {
      this.write(zeros(length), length, offset, done);
    },
    async finish(_totalBytes, trailer) {
      stream.code(null, false);
      check();
      if (!ended) throw new ImprintError('E_INTERNAL', 'The xz encoder did not finish its stream.');
      if (trailer) out.append(trailer);
      return out.finish();
    },
    outputBytes: () => out.bytes,
    durableBytes: () => out.durable,
    close: () => {
      stream.resetUnderlying();
      out.close();
    },
  };
}

function rawEncoder(): Encoder {
  const out = new SparseOutput(data.output);
  // Slots arrive in order, so everything before the end of the last one is written (or a hole).
  let durable = 0;
  return {
    write(buf, length, offset, done) {
      out.write(buf, offset, length);
      durable = offset + length;
      done();
    },
    zeros(length, offset, done) {
      this.write(zeros(length), length, offset, done);
    },
    async finish(totalBytes) {
      return out.finish(totalBytes);
    },
    // Progress counts the bytes the backup stands for, not the holes it saved.
    outputBytes: () => out.stored,
    durableBytes: () => durable,
    close: () => out.close(),
  };
}

/** How far the file is written, on disk, and read back. */
function positions(enc: Encoder): { outputBytes: number; durableBytes: number; checkedBytes?: number } {
  const checked = enc.checkedBytes?.();
  return { outputBytes: enc.outputBytes(), durableBytes: enc.durableBytes(), ...(checked === undefined ? {} : { checkedBytes: checked }) };
}

async function handle(msg: ToCompressWriter): Promise<void> {
  if ((failed || cancelled()) && msg.type !== 'abandon') return;
  switch (msg.type) {
    case 'write': {
      const { slot, length, offset } = msg;
      const enc = encoder as Encoder;
      enc.write(slotView(slot), length, offset, (contentCrc, contentXxh) =>
        port.post({ type: 'written', slot, bytes: length, ...positions(enc), ...(contentCrc === undefined ? {} : { contentCrc }), ...(contentXxh === undefined ? {} : { contentXxh }) }),
      );
      return;
    }
    case 'zeros': {
      const { length, offset } = msg;
      const enc = encoder as Encoder;
      enc.zeros(length, offset, (contentCrc) =>
        port.post({ type: 'written', slot: null, bytes: length, ...positions(enc), ...(contentCrc === undefined ? {} : { contentCrc }) }),
      );
      return;
    }
    case 'finish': {
      const enc = encoder as Encoder;
      const outputBytes = await enc.finish(msg.totalBytes, msg.trailer);
      port.post({ type: 'finished', outputBytes });
      // A file that reads itself back ends its check when told (backup-pipeline.ts), then the thread.
      if (!enc.checkRest) endThread();
      return;
    }
    case 'check-rest': {
      const enc = encoder as Encoder;
      await enc.checkRest?.();
      port.post({ type: 'checked' });
      endThread();
      return;
    }
    case 'abandon':
      encoder?.close();
      port.post({ type: 'abandoned' });
      endThread();
      return;
  }
}

/**
 * The file is closed: the thread ends by itself once its event loop is empty.
 * It is not left to be terminated: a termination that lands while liblzma's
 * encoder is still finishing a call aborts the whole process (measured: about
 * one cancelled xz backup in 150 on a loaded machine died with "terminate
 * called after throwing an instance of 'Napi::Error'").
 */
function endThread(): void {
  port.close();
}

port.onMessage((msg) => {
  chain = chain.then(() => handle(msg)).catch(fail);
});

try {
  encoder = data.compression === 'zstd' ? zstdEncoder() : data.compression === 'gzip' ? gzipEncoder() : data.compression === 'xz' ? xzEncoder() : rawEncoder();
  port.post({ type: 'ready' });
} catch (err) {
  fail(err);
}
