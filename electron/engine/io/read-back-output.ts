import * as fs from 'fs';
import { ImprintError, classifyReadError } from '../errors';
import { allocAligned, allocAlignedPrivate, alignUp } from './aligned-buffer';
import { closeQuietly, fsyncChecked } from './full-io';
import { SharedFrameScratch, openOutput, outputError } from './output-file';

/**
 * A compressed backup's output file that reads itself back as it goes: each
 * staged block, once written (around the page cache, as CompressedOutput
 * does), is read again from the disk in libuv's pool (O_DIRECT, so from the
 * disk, not from memory) and compared byte for byte with the block as it was
 * handed to write(), which is kept until then. When the file is finished only
 * its last block is left to read back.
 *
 * This replaced a read-back thread that took the CRC-32 of every piece of the
 * file as read, matched against CRC-32s the writer took as it wrote: two
 * CRC passes over the file (0.2-0.3 s of CPU for the smart bench drive's
 * 391 MB) and a thread's start-up (about 0.1 s of CPU), where one memcmp at
 * 8+ GB/s compares more strictly (every byte, not a checksum of them).
 *
 * Blocks are written in libuv's pool too, not on the calling thread: that
 * thread also compresses frames, and an O_DIRECT write of 4 MiB holds it for
 * 5-10 ms here (0.5-0.7 s of the smart bench backup, measured with
 * --cpu-prof, when it wrote synchronously). A block is read back only once
 * its own write has returned.
 *
 * The file is also fdatasync'ed every SYNC_EVERY bytes in the background:
 * the disk (or the VM host under it) then writes its cache out while the
 * backup goes on, and the final fsync, which the backup waits for, has
 * little left to do. Measured writing 391 MB here: final fsync 200-345 ms
 * alone, 0-67 ms after syncs every 32 MiB.
 */

/** Staging for compressed output: whole aligned blocks go to disk at once. */
const STAGE = 4 << 20;
/** Blocks kept for their read-back; more are allocated only when a single append needs them. */
const STAGES = 4;
/** Bytes written between background fdatasyncs. */
const SYNC_EVERY = 32 << 20;

interface Block {
  buf: Buffer;
  /** Where in the file the block starts, and how many of its bytes are the file's. */
  position: number;
  length: number;
  /** Read back only by checkRest() (written after hold()). */
  held: boolean;
  /** Its write has returned: it may be read back. */
  written: boolean;
}

export class ReadBackOutput {
  private fd: number;
  private readFd = -1;
  private readonly direct: boolean;
  private readonly free: Buffer[] = [];
  private current: Buffer;
  private fill = 0;
  /** Bytes handed to write(), and the prefix of them whose writes have all returned. */
  private flushed = 0;
  private writtenTo = 0;
  private syncedTo = 0;
  /** Writes still in libuv's pool, settled (a failure is recorded, not thrown). */
  private readonly writes = new Set<Promise<void>>();
  /** Written blocks waiting to be read back, oldest first. */
  private readonly unchecked: Block[] = [];
  private checkedTo = 0;
  private checking: Promise<void> | null = null;
  private readonly readBuf = allocAligned(STAGE);
  private readonly scratch = new SharedFrameScratch();
  private failure: Error | null = null;
  private roomWaiters: (() => void)[] = [];
  /** Reads and syncs still in libuv's pool: the descriptors stay open until they return. */
  private inFlight = 0;
  private closed = false;
  private holding = false;
  /** Background fdatasyncs, each resolved once it returned (its failure is recorded). */
  private readonly syncs: Promise<void>[] = [];

  constructor(private readonly file: string) {
    ({ fd: this.fd, direct: this.direct } = openOutput(file));
    try {
      this.readFd = fs.openSync(file, fs.constants.O_RDONLY | (this.direct ? fs.constants.O_DIRECT : 0));
    } catch (err) {
      fs.closeSync(this.fd);
      throw outputError(err, file, 0);
    }
    for (let i = 0; i < STAGES; i++) this.free.push(allocAlignedPrivate(STAGE));
    this.current = this.free.pop() as Buffer;
  }

  /** Bytes of backup file produced so far. */
  get bytes(): number {
    return this.flushed + this.fill;
  }

  /** Bytes at the start of the file already written to it (the staged rest, and writes still under way, are not yet). */
  get durable(): number {
    return this.writtenTo;
  }

  /** Bytes at the start of the file read back and found as written. */
  get checked(): number {
    return this.checkedTo;
  }

  /** Whether `bytes` more can be appended without a block waiting on its read-back. */
  hasRoom(bytes: number): boolean {
    return STAGE - this.fill + this.free.length * STAGE >= bytes;
  }

  /** Resolves once `bytes` can be appended without holding more blocks than STAGES; rejects with the first failure. */
  async room(bytes: number): Promise<void> {
    while (!this.hasRoom(bytes) && this.unchecked.length > 0 && !this.holding) {
      this.throwIfFailed();
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    this.throwIfFailed();
  }

  /** Appends `data`; the bytes are copied (the caller may reuse its memory). Throws the first failure. */
  append(data: Uint8Array): void {
    this.throwIfFailed();
    data = this.scratch.unshared(data);
    let pos = 0;
    while (pos < data.length) {
      const n = Math.min(STAGE - this.fill, data.length - pos);
      this.current.set(data.subarray(pos, pos + n), this.fill);
      this.fill += n;
      pos += n;
      if (this.fill === STAGE) this.writeBlock(STAGE);
    }
  }

  /**
   * Blocks written from now on (the file's end: its trailer and seek table)
   * are read back only by checkRest(), once the file is final.
   */
  hold(): void {
    this.holding = true;
  }

  /**
   * Writes what is staged, trims the padding of the last block and makes the
   * file durable; returns its size. Its last block is read back by checkRest().
   */
  async finish(): Promise<number> {
    this.throwIfFailed();
    const total = this.bytes;
    if (this.fill > 0) {
      const len = this.direct ? alignUp(this.fill) : this.fill;
      this.current.fill(0, this.fill, len);
      this.hold();
      this.writeBlock(this.fill, len);
    }
    while (this.writes.size > 0) await Promise.all(this.writes);
    this.throwIfFailed();
    try {
      fs.ftruncateSync(this.fd, total);
      fsyncChecked(this.fd);
    } catch (err) {
      throw outputError(err, this.file, total);
    }
    await Promise.all(this.syncs);
    this.throwIfFailed();
    return total;
  }

  /** After finish(): reads back every block not yet read back (started only now: the file is final), then closes the file. */
  async checkRest(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
    this.throwIfFailed();
    for (const block of this.unchecked) block.held = false;
    while (this.unchecked.length > 0 && !this.failure && !this.closed) {
      this.startChecking();
      await this.checking;
    }
    this.throwIfFailed();
    this.close();
  }

  /** Closes once; descriptors still used by a read or sync in libuv's pool are closed when it returns. */
  close(): void {
    this.closed = true;
    this.releaseFds();
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new ImprintError('E_INTERNAL', `${this.file} was already closed.`);
  }

  /** Starts writing the current block (`length` of its bytes are the file's, `writeLength` go to disk) and queues its read-back. */
  private writeBlock(length: number, writeLength = length): void {
    const block: Block = { buf: this.current, position: this.flushed, length, held: this.holding, written: false };
    this.unchecked.push(block);
    this.flushed += length;
    this.fill = 0;
    this.current = this.free.pop() ?? allocAlignedPrivate(STAGE);
    const write = this.writeAsync(block, writeLength).then(
      () => {
        block.written = true;
        this.wroteUpTo();
        this.startChecking();
      },
      (err: unknown) => this.fail(outputError(err, this.file, block.position)),
    );
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /** Writes `length` bytes of a block at its place, looping over short writes. */
  private async writeAsync(block: Block, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      this.inFlight++;
      let n: number;
      try {
        n = await new Promise<number>((resolve, reject) =>
          fs.write(this.fd, block.buf, done, length - done, block.position + done, (err, count) => (err ? reject(err) : resolve(count))),
        );
      } finally {
        this.inFlight--;
        this.releaseFds();
      }
      if (n <= 0) throw Object.assign(new Error(`no progress writing at ${block.position + done}`), { code: 'ENOSPC' });
      if (this.closed) return;
      done += n;
    }
  }

  /** Moves writtenTo past every block whose write, and every earlier one's, has returned; syncs in the background now and then. */
  private wroteUpTo(): void {
    for (const block of this.unchecked) {
      if (block.position + block.length <= this.writtenTo) continue;
      if (!block.written) break;
      this.writtenTo = block.position + block.length;
    }
    if (this.writtenTo - this.syncedTo >= SYNC_EVERY) this.syncInBackground();
  }

  private syncInBackground(): void {
    const upTo = (this.syncedTo = this.writtenTo);
    this.inFlight++;
    this.syncs.push(
      new Promise<void>((resolve) =>
        fs.fdatasync(this.fd, (err) => {
          this.inFlight--;
          // A failed sync is the only report of a write lost on the way to the disk, and it comes
          // once: the final fsync may then succeed, so this failure must fail the backup.
          if (err && !this.closed) this.fail(outputError(err, this.file, upTo));
          this.releaseFds();
          resolve();
        }),
      ),
    );
  }

  private startChecking(): void {
    if (this.checking || this.closed) return;
    this.checking = this.checkBlocks()
      .catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))))
      .finally(() => {
        this.checking = null;
      });
  }

  /** Reads back the written blocks in order, one at a time, until none is left. */
  private async checkBlocks(): Promise<void> {
    for (;;) {
      const block = this.unchecked[0];
      if (!block || block.held || !block.written || this.failure || this.closed) return;
      const n = await this.readBack(block);
      if (this.closed) return;
      if (n < block.length) {
        throw new ImprintError('E_VERIFY_SHORT', `${this.file} holds fewer bytes than were written to it (it ends at ${block.position + n}, ${block.position + block.length} were written).`, { offset: block.position + n });
      }
      const written = block.buf.subarray(0, block.length);
      const read = this.readBuf.subarray(0, block.length);
      if (!written.equals(read)) {
        let at = 0;
        while (at < block.length && written[at] === read[at]) at++;
        const offset = block.position + at;
        throw new ImprintError('E_VERIFY_MISMATCH', `The backup file ${this.file} reads back differently from what was written to it from byte ${offset} on. It was removed; the disk it was written to may be failing.`, { offset });
      }
      this.unchecked.shift();
      this.checkedTo = block.position + block.length;
      this.free.push(block.buf);
      for (const wake of this.roomWaiters.splice(0)) wake();
    }
  }

  /** Reads a block's bytes back into readBuf, looping over short reads; returns how many the file holds. */
  private async readBack(block: Block): Promise<number> {
    let done = 0;
    const want = alignUp(block.length);
    while (done < block.length) {
      this.inFlight++;
      let n: number;
      try {
        n = await new Promise<number>((resolve, reject) =>
          fs.read(this.readFd, this.readBuf, done, want - done, block.position + done, (err, count) => (err ? reject(err) : resolve(count))),
        );
      } catch (err) {
        throw classifyReadError(err, this.file, block.position + done);
      } finally {
        this.inFlight--;
        this.releaseFds();
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private releaseFds(): void {
    if (!this.closed || this.inFlight > 0) return;
    closeQuietly([this.fd, this.readFd]);
    this.fd = -1;
    this.readFd = -1;
  }
}

