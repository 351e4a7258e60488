import * as fs from 'fs';
import { ImprintError, classifyWriteError, errnoOf } from '../errors';
import { allocAlignedPrivate, alignUp } from './aligned-buffer';
import { closeQuietly, fsyncChecked, writeFully } from './full-io';

/**
 * The backup file being written. Writes go around the page cache (O_DIRECT)
 * where the filesystem allows it, so a large backup neither evicts the user's
 * working set nor leaves minutes of dirty pages to flush at the end, and a
 * full disk shows as ENOSPC on the write that did not fit. tmpfs and some
 * network filesystems refuse O_DIRECT: those are written through the cache.
 */

/** Staging for compressed output: whole aligned blocks go to disk at once. */
const STAGE = 4 << 20;
/** Holes in a raw backup are found at this granularity. */
const HOLE_BLOCK = 64 * 1024;
const ZEROS = Buffer.alloc(HOLE_BLOCK);

/** Opens a backup file for writing, O_DIRECT where the filesystem allows it. */
export function openOutput(file: string): { fd: number; direct: boolean } {
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC;
  try {
    return { fd: fs.openSync(file, flags | fs.constants.O_DIRECT, 0o644), direct: true };
  } catch (err) {
    if (errnoOf(err) !== 'EINVAL') throw outputError(err, file, 0);
  }
  try {
    return { fd: fs.openSync(file, flags, 0o644), direct: false };
  } catch (err) {
    throw outputError(err, file, 0);
  }
}

/** A failed write to the backup file, in the user's terms; a full disk says so plainly. */
export function outputError(err: unknown, file: string, offset: number): ImprintError {
  const errno = errnoOf(err);
  if (errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'EFBIG') {
    const why = errno === 'EDQUOT' ? 'your disk quota is used up' : errno === 'EFBIG' ? 'the file grew larger than that filesystem allows' : 'the disk is full';
    return new ImprintError('E_NO_SPACE', `The backup ran out of room: ${why} after ${offset} bytes of ${file} were written. The unfinished backup was removed; free some space or choose another destination.`, { cause: err, offset });
  }
  return classifyWriteError(err, file, offset);
}

/**
 * Where a frame in shared memory (a ZstdFramePool slot) is copied out whole
 * first, both sides aligned, before it goes into an output's staging at its
 * offset. Straight from shared memory to an unaligned offset ran at 1-2.5
 * GB/s (0.14 s of CPU for the smart bench drive's 385 MB); the two copies at
 * 10 GB/s.
 */
export class SharedFrameScratch {
  private buf: Buffer | null = null;

  /** `data` itself, or, when it lies in shared memory, its copy here (valid until the next call). */
  unshared(data: Uint8Array): Uint8Array {
    if (!(data.buffer instanceof SharedArrayBuffer) || data.length <= 4096) return data;
    if (!this.buf || this.buf.length < data.length) this.buf = Buffer.allocUnsafeSlow(Math.max(data.length, STAGE + 64 * 1024));
    this.buf.set(data);
    return this.buf.subarray(0, data.length);
  }
}

/** Sequential output of a compressed backup. */
export class CompressedOutput {
  private fd: number;
  private readonly direct: boolean;
  /** Private, not shared: compressed frames are copied in at any offset (allocAlignedPrivate says why). */
  private readonly staging = allocAlignedPrivate(STAGE);
  private readonly scratch = new SharedFrameScratch();
  private fill = 0;
  private flushed = 0;

  constructor(private readonly file: string) {
    ({ fd: this.fd, direct: this.direct } = openOutput(file));
  }

  /** Bytes of backup file produced so far. */
  get bytes(): number {
    return this.flushed + this.fill;
  }

  /** Bytes at the start of the file already written to it (the staged rest is not yet). */
  get durable(): number {
    return this.flushed;
  }

  /** Free room in the staging buffer, to compress straight into; never empty. */
  room(): Buffer {
    if (this.fill === STAGE) this.flushStage();
    return this.staging.subarray(this.fill);
  }

  /** Records that `n` bytes were put at the start of `room()`. */
  commit(n: number): void {
    this.fill += n;
    if (this.fill === STAGE) this.flushStage();
  }

  append(data: Uint8Array): void {
    data = this.scratch.unshared(data);
    let pos = 0;
    while (pos < data.length) {
      const room = this.room();
      const n = Math.min(room.length, data.length - pos);
      room.set(data.subarray(pos, pos + n));
      pos += n;
      this.commit(n);
    }
  }

  private flushStage(): void {
    this.writeAt(this.staging.subarray(0, this.fill), this.flushed);
    this.flushed += this.fill;
    this.fill = 0;
  }

  private writeAt(buf: Buffer, position: number): void {
    try {
      writeFully(this.fd, buf, position);
    } catch (err) {
      throw outputError(err, this.file, position);
    }
  }

  /** Writes what is staged, trims the padding of the last block, and makes it durable. */
  finish(): number {
    const total = this.bytes;
    if (this.fill > 0) {
      const len = this.direct ? alignUp(this.fill) : this.fill;
      this.staging.fill(0, this.fill, len);
      this.writeAt(this.staging.subarray(0, len), this.flushed);
    }
    try {
      fs.ftruncateSync(this.fd, total);
      fsyncChecked(this.fd);
    } catch (err) {
      throw outputError(err, this.file, total);
    }
    this.close();
    return total;
  }

  /** Closes once: a second close could hit a descriptor number another thread reopened meanwhile. */
  close(): void {
    if (this.fd < 0) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Closing after a failure that was reported.
    }
    this.fd = -1;
  }
}

/**
 * A raw backup as a sparse file: blocks of zeros become holes, so an empty
 * 64 GB card takes the room of its data only, and any tool reads it back as
 * the full drive.
 */
export class SparseOutput {
  private fd: number;
  private readonly direct: boolean;
  /** Writes whose length is not whole pages cannot go O_DIRECT: the drive's last odd sectors. */
  private bufferedFd = -1;
  stored = 0;

  constructor(private readonly file: string) {
    ({ fd: this.fd, direct: this.direct } = openOutput(file));
  }

  /** Writes `length` bytes of `chunk` (page-aligned memory) at `offset`, skipping runs of zeros. */
  write(chunk: Buffer, offset: number, length: number): void {
    let runStart = -1;
    for (let at = 0; ; at += HOLE_BLOCK) {
      const done = at >= length;
      const end = Math.min(length, at + HOLE_BLOCK);
      const zero = done || chunk.subarray(at, end).equals(ZEROS.subarray(0, end - at));
      if (!zero && runStart < 0) runStart = at;
      if (zero && runStart >= 0) {
        this.writeRun(chunk.subarray(runStart, Math.min(at, length)), offset + runStart);
        runStart = -1;
      }
      if (done) break;
    }
  }

  private writeRun(data: Buffer, position: number): void {
    let fd = this.fd;
    if (this.direct && data.length % 4096 !== 0) {
      if (this.bufferedFd < 0) this.bufferedFd = fs.openSync(this.file, fs.constants.O_WRONLY);
      fd = this.bufferedFd;
    }
    try {
      writeFully(fd, data, position);
    } catch (err) {
      throw outputError(err, this.file, position);
    }
    this.stored += data.length;
  }

  /** Sets the file to the drive's size (the trailing holes) and makes it durable. */
  finish(totalBytes: number): number {
    try {
      fs.ftruncateSync(this.fd, totalBytes);
      if (this.bufferedFd >= 0) fsyncChecked(this.bufferedFd);
      fsyncChecked(this.fd);
    } catch (err) {
      throw outputError(err, this.file, totalBytes);
    }
    this.close();
    return totalBytes;
  }

  close(): void {
    closeQuietly([this.fd, this.bufferedFd]);
    this.fd = -1;
    this.bufferedFd = -1;
  }
}
