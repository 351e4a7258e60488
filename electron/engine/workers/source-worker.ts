import * as fs from 'fs';
import * as crypto from 'crypto';
import { ImprintError, classifyReadError, toErrorInfo } from '../errors';
import { logicalBlockSize } from '../io/block-device';
import { diagnoseReadFailure } from '../io/device-faults';
import { readFully } from '../io/full-io';
import { FeedRing } from '../io/feed-ring';
import { followGrowingFile, followedFile, waitForBytes, waitForWholeFile } from '../io/growing-file';
import type { SlotReader } from '../formats/image-kind';
import { abilitiesOf, corrupt, kindOf, openContent } from '../formats/image-source';
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
// A file still being downloaded: its readers wait for its bytes, and the pipeline's
// watchdog hears that the wait is the network's, not a hung reader (the download has its own limit).
if (source.growing) followGrowingFile(source.path, source.growing, () => port.post({ type: 'input', bytes: 0 }));
/** A raw image still downloading, whose bytes from `feed.start` on arrive in the ring itself (io/feed-ring.ts). */
const feed = source.feed ? new FeedRing(source.feed) : null;
if (feed && (feed.spec.data !== ring.memory || feed.spec.chunk !== ring.slotSize)) throw new Error('a fed source needs the feed as its ring');
const slots = new SlotQueue(ring.slots);
const abort = new AbortController();
let cancelled = false;
let startReading = (): void => {};
const started = new Promise<void>((resolve) => (startReading = resolve));

port.onMessage((msg) => {
  if (msg.type === 'start') startReading();
  else if (msg.type === 'free') {
    slots.release(msg.slot);
    allowFed();
  }
  else if (msg.type === 'cancel') {
    cancelled = true;
    abort.abort();
    slots.interrupt();
    startReading();
  }
});

const slotView = (slot: number): Buffer => Buffer.from(ring.memory, slot * ring.slotSize, ring.slotSize);

/**
 * The image's kind says how its content reaches the ring (ImageAbilities.intoRing):
 * read straight in (raw), decoded straight in (libzstd, zlib, or a system
 * program writing through a named pipe), or streamed and copied in.
 */
const abilities = abilitiesOf(source);

/** A reader that decodes into the slots, when the kind has one and it can start here; else null. */
function openSlotReader(): SlotReader | null {
  if (abilities.intoRing !== 'decode') return null;
  return kindOf(source).openSlotReader(source, { signal: abort.signal, onInput: (bytes: number) => port.post({ type: 'input', bytes }), decoders: source.decoders });
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

  if (abilities.intoRing === 'read') {
    // Raw images and drives: read straight into the aligned slots, no copies.
    // A drive source is opened O_DIRECT so a backup does not evict the user's page cache.
    const flags = source.isDevice ? fs.constants.O_RDONLY | fs.constants.O_DIRECT : fs.constants.O_RDONLY;
    const fd = fs.openSync(source.path, flags);
    const expected = Math.min(source.size ?? Infinity, limit);
    try {
      while (offset < expected) {
        const slot = feed ? await takeFedSlot(feed, offset) : await slots.take(() => cancelled);
        if (slot === null) return;
        const buf = slotView(slot);
        const want = Math.min(ring.slotSize, expected - offset);
        if (feed) await waitFed(offset + want);
        else waitForBytes(source.path, offset + want);
        if (cancelled) return;
        let n = feed ? readFed(feed, fd, buf, want, offset) : readSlot(fd, buf, source.isDevice ? Math.ceil(want / 4096) * 4096 : want, offset);
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
  // The image's end is declared only once the whole download is there (its checksum and length checked).
  waitForWholeFile(source.path);
  // A file read as it is stored: its digest is the content's (the hasher's), no second pass.
  const fileSha256 = data.fileHash ? (abilities.intoRing === 'read' ? null : await hashFile(source.path)) : null;
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

/**
 * A fed image's chunk at `offset` fills the slot that holds it in the feed
 * (the chunk's number modulo the slots). Once that slot is free, the
 * download may write it, and every following chunk whose slot is free too.
 */
async function takeFedSlot(feed: FeedRing, offset: number): Promise<number | null> {
  const k = Math.floor(offset / ring.slotSize);
  const slot = await slots.takeSlot(k % ring.slots, () => cancelled);
  if (slot === null) return null;
  fedChunk = k;
  allowFed();
  return slot;
}

/** The chunk whose slot the fed reader holds (-1: none yet). */
let fedChunk = -1;

/** Lets the download write that chunk and every following one whose slot is free (also as slots are freed). */
function allowFed(): void {
  if (!feed || fedChunk < 0) return;
  let ahead = 1;
  while (ahead < ring.slots && slots.isFree((fedChunk + ahead) % ring.slots)) ahead++;
  feed.allow((fedChunk + ahead) * ring.slotSize);
}

/**
 * Waits for a fed image's bytes without blocking this thread: the slots the
 * drives free meanwhile are handed on to the download at once (allowFed),
 * instead of the download and this reader taking turns. About once a second
 * the pipeline's watchdog hears that the wait is the network's.
 */
async function waitFed(end: number): Promise<void> {
  const file = followedFile(source.path);
  if (!file) return;
  const arrived = file.waitForAsync(end).then(() => true);
  arrived.catch(() => {});
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const beat = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 1000)));
    const done = await Promise.race([arrived, beat]);
    clearTimeout(timer);
    if (done || cancelled) return;
    port.post({ type: 'input', bytes: 0 });
  }
}

/** A fed image's chunk: the bytes before the feed began from the file; the rest the socket put in the slot already. */
function readFed(feed: FeedRing, fd: number, buf: Buffer, want: number, offset: number): number {
  const fromFile = Math.max(0, Math.min(want, feed.start - offset));
  const n = fromFile > 0 ? readSlot(fd, buf, fromFile, offset) : 0;
  return n < fromFile ? n : want;
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
