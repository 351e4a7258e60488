import * as fs from 'fs';
import * as crypto from 'crypto';
import { ImprintError, classifyReadError, toErrorInfo } from '../errors';
import { logicalBlockSize } from '../io/block-device';
import { diagnoseReadFailure } from '../io/device-faults';
import { readFully } from '../io/full-io';
import { corrupt, nativeProgram, openContent } from '../formats/image-source';
import { ProgramReader } from '../formats/program-reader';
import { ZstdReader } from '../formats/zstd-decoder';
import { canInflateInPlace, InflateReader } from '../formats/inflate-reader';
import { workerPort, SlotQueue } from './worker-port';
import { SOURCE_WORKER } from './messages';

/**
 * Reads the image, decompresses it, and fills the shared ring slot by slot.
 * Checksums and digests are the hasher worker's job, on the other core:
 * decompression alone keeps this thread busy.
 */
const port = workerPort(SOURCE_WORKER);
const data = port.data;
const { ring, source } = data;
const slots = new SlotQueue(ring.slots);
const abort = new AbortController();
let cancelled = false;
let startReading = (): void => {};
const started = new Promise<void>((resolve) => (startReading = resolve));

port.onMessage((msg) => {
  if (msg.type === 'start') startReading();
  else if (msg.type === 'free') slots.release(msg.slot);
  else if (msg.type === 'cancel') {
    cancelled = true;
    abort.abort();
    slots.interrupt();
    startReading();
  }
});

const slotView = (slot: number): Buffer => Buffer.from(ring.memory, slot * ring.slotSize, ring.slotSize);

/** Something that fills a slot with decoded bytes (fewer only at the end) and can be stopped. */
interface SlotReader {
  read(dst: Buffer): Promise<number>;
  close(): Promise<void>;
}

/**
 * zstd and deflate (gzip, zip) decode into the slots themselves (libzstd,
 * zlib); the xz and bzip2 programs write into them through a named pipe.
 */
function openSlotReader(): SlotReader | null {
  const opts = { signal: abort.signal, onInput: (bytes: number) => port.post({ type: 'input', bytes }) };
  if (source.format === 'zstd') return new ZstdReader(source.path, opts);
  if (source.format === 'gzip' && canInflateInPlace()) return new InflateReader(source.path, { ...opts, mode: 'gzip' });
  const entry = source.zipEntry;
  if (source.format === 'zip' && entry?.method === 8 && canInflateInPlace()) {
    return new InflateReader(source.path, { ...opts, mode: 'raw', start: entry.dataOffset, length: entry.compressedSize, expect: { size: entry.uncompressedSize, crc32: entry.crc32 } });
  }
  const program = nativeProgram(source);
  return program ? ProgramReader.open(program.path, program.args, source.path, opts) : null;
}

async function run(): Promise<void> {
  await started;
  if (cancelled) return;
  const limit = data.limit ?? Infinity;
  let reader: SlotReader | null;
  let offset = 0;
  const checkDecodedSize = (): void => {
    if (offset === 0) throw new ImprintError('E_CORRUPT_SOURCE', `${source.path} decompresses to nothing: the image inside is empty.`);
    if (source.size !== null && data.limit === null && offset !== source.size) {
      throw new ImprintError('E_CORRUPT_SOURCE', `${source.path} decompressed to ${offset} bytes, but its header says ${source.size}: the file is corrupt.`);
    }
  };

  const emit = (slot: number, buf: Buffer, length: number): void => {
    // Zero the slack so a writer padding the last chunk to a whole sector writes zeros.
    if (length < ring.slotSize) buf.fill(0, length, Math.min(ring.slotSize, length + 65536));
    port.post({ type: 'chunk', slot, offset, length });
    offset += length;
  };

  if (source.format === 'raw') {
    // Raw images and drives: read straight into the aligned slots, no copies.
    // A drive source is opened O_DIRECT so a backup does not evict the user's page cache.
    const flags = source.isDevice ? fs.constants.O_RDONLY | fs.constants.O_DIRECT : fs.constants.O_RDONLY;
    const fd = fs.openSync(source.path, flags);
    const expected = Math.min(source.size ?? Infinity, limit);
    try {
      while (offset < expected) {
        const slot = await slots.take(() => cancelled);
        if (slot === null) return;
        const buf = slotView(slot);
        const want = Math.min(ring.slotSize, expected - offset);
        let n = readSlot(fd, buf, source.isDevice ? Math.ceil(want / 4096) * 4096 : want, offset);
        n = Math.min(n, want);
        if (n < want) {
          throw new ImprintError('E_SOURCE_CHANGED', `${source.path} ended after ${offset + n} bytes, but it was ${expected} bytes when the job started: did the file change or the drive shrink?`, { offset: offset + n });
        }
        emit(slot, buf, n);
        port.post({ type: 'input', bytes: n });
      }
      if (!source.isDevice && data.limit === null && fs.fstatSync(fd).size !== source.size) {
        throw new ImprintError('E_SOURCE_CHANGED', `${source.path} changed size while it was being read. Make sure nothing else writes to it, and try again.`);
      }
    } finally {
      fs.closeSync(fd);
    }
  } else if ((reader = openSlotReader()) !== null) {
    // Decoders that write straight into the ring's slots: no intermediate buffers.
    try {
      for (;;) {
        if (offset >= limit) break;
        const slot = await slots.take(() => cancelled);
        if (slot === null) return;
        const buf = slotView(slot);
        let n: number;
        try {
          n = await reader.read(buf.subarray(0, Math.min(ring.slotSize, limit - offset)));
        } catch (err) {
          if (cancelled) return;
          throw corrupt(source, err);
        }
        if (n === 0) {
          slots.release(slot);
          break;
        }
        emit(slot, buf, n);
        if (n < ring.slotSize) break;
      }
    } finally {
      await reader.close();
    }
    checkDecodedSize();
  } else {
    let slot: number | null = null;
    let buf: Buffer | null = null;
    let fill = 0;
    // Each piece is copied into a slot before the next is asked for.
    for await (const piece of openContent(source, { signal: abort.signal, transient: true, onInput: (bytes) => port.post({ type: 'input', bytes }) })) {
      let pos = 0;
      while (pos < piece.length) {
        if (offset + fill >= limit) break;
        if (slot === null) {
          slot = await slots.take(() => cancelled);
          if (slot === null) return;
          buf = slotView(slot);
          fill = 0;
        }
        const n = Math.min(piece.length - pos, ring.slotSize - fill, limit - offset - fill);
        piece.copy(buf as Buffer, fill, pos, pos + n);
        fill += n;
        pos += n;
        if (fill === ring.slotSize) {
          emit(slot, buf as Buffer, fill);
          slot = null;
        }
      }
      if (cancelled) return;
      if (offset + fill >= limit) break;
    }
    if (slot !== null && fill > 0) emit(slot, buf as Buffer, fill);
    checkDecodedSize();
  }
  if (cancelled) return;
  const fileSha256 = data.fileHash ? (source.format === 'raw' ? null : await hashFile(source.path)) : null;
  port.post({ type: 'end', bytes: offset, contentDigests: {}, fileSha256 });
}

/**
 * One read of a raw source. A drive's read error is examined first: the report
 * names the exact unreadable sector, or says the drive is gone; a read that
 * succeeds on a second try is not an error.
 */
function readSlot(fd: number, buf: Buffer, length: number, offset: number): number {
  try {
    return readFully(fd, buf, 0, length, offset);
  } catch (err) {
    if (!source.isDevice) throw classifyReadError(err, source.path, offset);
    const error = diagnoseReadFailure(fd, source.path, offset, length, logicalBlockSize(source.path), err);
    if (error) throw error;
  }
  try {
    return readFully(fd, buf, 0, length, offset);
  } catch (err) {
    throw classifyReadError(err, source.path, offset);
  }
}

async function hashFile(path: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const c of fs.createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

run()
  .catch((err: unknown) => {
    if (!cancelled) port.post({ type: 'error', error: toErrorInfo(err) });
  })
  .finally(() => port.post({ type: 'closed' }));
