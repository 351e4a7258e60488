import * as fs from 'fs';
import { ImprintError } from '../errors';
import { ALIGNMENT, alignDown } from '../io/aligned-buffer';
import { FeedRing, type FeedSpec } from '../io/feed-ring';
import type { GrowingFile } from '../io/growing-file';
import { FileSink } from './file-sink';
import type { DownloadSink } from './http-download';

/** The least room worth lending to the socket for its next read; with less, it reads into its own buffer. */
const MIN_LEND = 64 << 10;
/** The cache file is written in pieces of up to this (one O_DIRECT write each). */
const CACHE_PIECE = 4 << 20;
/** Compared with each O_DIRECT piece: runs of zeros are left as holes of the file (its full size is set before the feed). */
const ZEROS = Buffer.alloc(CACHE_PIECE);
/** Writes of the cache file under way at once (see pump). */
const CACHE_WRITES = 3;
/** Fewer bytes than this wait for more before a write of the cache file (unless the download ended). */
const CACHE_MIN_PIECE = 1 << 20;
/** How long the download waits for room before looking again (a missed wake-up costs no more than this). */
const ROOM_POLL_MS = 1000;

interface CachePiece {
  at: number;
  end: number;
  state: 'writing' | 'done' | 'redo';
}

/**
 * The download's sink for a flash from a URL. It starts as a FileSink (the
 * cache's temporary file, followed by the image's reader) while the job
 * tells the image's format from its first bytes. For a raw image the job
 * then switches it to a feed (`toFeed`): the socket reads into the flash's
 * ring (io/feed-ring.ts, lent by `receiveBuffer`), and the cache file is
 * written from that memory behind the download, asynchronously and with
 * O_DIRECT where the file system allows it (no page-cache copy, no dirty
 * gigabyte to flush at the end); the download waits, and with it the
 * connection (TCP's own backpressure), while the drives or the cache file
 * are a ring behind, instead of taking the cores from the flash. The cache file still receives every byte:
 * a flash that succeeds keeps it (download-cache.ts), and a server that
 * sends the file again from byte 0 is checked against it as before.
 */
export class FeedSink implements DownloadSink {
  private readonly file: FileSink;
  private feed: FeedRing | null = null;
  /** End of what the download delivered (the stream's head). */
  private head = 0;
  /** End of what the cache file holds, from the feed. */
  private cacheTail = 0;
  /** End of what was handed to the cache file's writes (or found to be zeros). */
  private issued = 0;
  /** Pieces from `cacheTail` on, in order: written, being written, or to write again. */
  private readonly pieces: CachePiece[] = [];
  private inFlight = 0;
  /** The file system refused an O_DIRECT write: buffered writes from then on. */
  private directRefused = false;
  private writeError: Error | null = null;
  private directFd = -1;
  /** The download ended: the unaligned tail may be written. */
  private ended = false;
  private readonly drained: (() => void)[] = [];
  /** Writes still under way (waiting for room, or comparing resent bytes): they move the head later, so no memory is lent meanwhile. */
  private busy = 0;
  /** The file's size (the feed's end). */
  private total = Infinity;

  constructor(
    private readonly fd: number,
    private readonly path: string,
    private readonly growing: GrowingFile,
    private readonly signal?: AbortSignal,
  ) {
    this.file = new FileSink(fd, growing);
  }

  /** The feed's description for the reader's thread, once switched. */
  get spec(): FeedSpec | null {
    return this.feed?.spec ?? null;
  }

  /**
   * From now on bytes go to a feed the image's reader takes them from; the
   * bytes before (in the file) it reads from the file. Returns the feed.
   */
  toFeed(ring: { bytes: number; chunk: number }, total: number): FeedSpec {
    if (this.feed) return this.feed.spec;
    // Its full size first: pieces of zeros are not written (pump), and must read back as zeros.
    if (fs.fstatSync(this.fd).size < total) fs.ftruncateSync(this.fd, total);
    const start = this.file.written;
    this.total = total;
    this.feed = FeedRing.create(ring.bytes, ring.chunk, start);
    this.head = start;
    this.cacheTail = start;
    this.issued = start;
    try {
      this.directFd = fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
    } catch {
      // A file system without O_DIRECT (tmpfs): buffered writes, off the download's thread all the same.
      this.directFd = -1;
    }
    return this.feed.spec;
  }

  write(chunk: Buffer, offset: number): void | Promise<void> {
    if (!this.feed) return this.file.write(chunk, offset);
    // Bytes are taken in order: a write still waiting for room (or comparing bytes sent again) goes first. The
    // download pauses its response on that wait, but a connection that broke meanwhile is resumed by a new one,
    // whose first bytes come while the old write still waits.
    if (this.pending) return this.track(this.pending.then(() => this.writeNow(chunk, offset)));
    const w = this.writeNow(chunk, offset);
    return w ? this.track(w) : undefined;
  }

  /** The last write not yet settled, while there is one. */
  private pending: Promise<void> | null = null;

  private track(p: Promise<void>): Promise<void> {
    const tracked: Promise<void> = p.finally(() => {
      if (this.pending === tracked) this.pending = null;
    });
    this.pending = tracked;
    return tracked;
  }

  private writeNow(chunk: Buffer, offset: number): void | Promise<void> {
    const feed = this.feed;
    if (!feed) return this.file.write(chunk, offset);
    if (this.writeError) return Promise.reject(this.writeError);
    if (offset < this.head) return this.resent(chunk, offset);
    if (offset !== this.head) return Promise.reject(new ImprintError('E_INTERNAL', `download bytes at ${offset}, expected ${this.head}`));
    if (feed.holds(chunk, this.head) && this.room(feed) >= chunk.length) {
      // Read in place, into memory lent below.
      this.advance(chunk.length);
      // The ring is full: the connection waits (TCP's backpressure) rather than reading into its own buffer, to be copied.
      return this.room(feed) === 0 && this.head < this.total ? this.waitForRoom(feed) : undefined;
    }
    if (this.room(feed) >= chunk.length) {
      this.accept(feed, chunk);
      return;
    }
    return this.putWhenRoom(feed, chunk);
  }

  /**
   * Memory the socket's next read may land in: the ring at the stream's
   * head, as much as may be written there. Null when there is too little
   * room (the read then goes to the connection's own buffer, copied in by
   * `write`). direct-get.ts asks only between body reads, so nothing else
   * is written here before that read arrives.
   */
  receiveBuffer(): Buffer | null {
    const feed = this.feed;
    if (!feed || this.writeError || this.busy > 0 || this.pending) return null;
    const room = this.room(feed);
    return room >= MIN_LEND ? feed.view(this.head, room) : null;
  }

  /** Bytes the download may add without overwriting what the drives or the cache file still need. */
  private room(feed: FeedRing): number {
    return Math.max(0, Math.min(feed.allowed, this.cacheTail + feed.size) - this.head);
  }

  private accept(feed: FeedRing, chunk: Buffer): void {
    feed.put(chunk, this.head);
    this.advance(chunk.length);
  }

  private advance(n: number): void {
    this.head += n;
    this.growing.advance(this.head);
    this.pump();
  }

  private async putWhenRoom(feed: FeedRing, chunk: Buffer): Promise<void> {
    this.busy++;
    try {
      await this.putLater(feed, chunk);
    } finally {
      this.busy--;
    }
  }

  private async waitForRoom(feed: FeedRing): Promise<void> {
    this.busy++;
    try {
      // Bounded as putLater: the room comes, or the download is aborted, or the cache or the reader failed.
      for (;;) {
        this.checkGoing();
        // (The counter before the room: a change between the two is not missed.)
        const tick = feed.tick;
        if (this.room(feed) > 0) return;
        await feed.waitChange(tick, ROOM_POLL_MS);
      }
    } finally {
      this.busy--;
    }
  }

  private checkGoing(): void {
    if (this.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
    if (this.writeError) throw this.writeError;
    if (this.growing.state === 'failed') throw new ImprintError('E_DOWNLOAD_FAILED', 'The image reader stopped.');
  }

  private async putLater(feed: FeedRing, chunk: Buffer): Promise<void> {
    let rest = chunk;
    // Bounded: each round either takes bytes or waits; it ends with the download (aborted) or a cache error.
    while (rest.length > 0) {
      this.checkGoing();
      const tick = feed.tick;
      const n = Math.min(rest.length, this.room(feed));
      if (n > 0) {
        this.accept(feed, rest.subarray(0, n));
        rest = rest.subarray(n);
        continue;
      }
      await feed.waitChange(tick, ROOM_POLL_MS);
    }
  }

  /** A server that sent the file again from byte 0: what was received before is compared with the file, never rewritten. */
  private async resent(chunk: Buffer, offset: number): Promise<void> {
    this.busy++;
    try {
      await this.compareResent(chunk, offset);
    } finally {
      this.busy--;
    }
  }

  private async compareResent(chunk: Buffer, offset: number): Promise<void> {
    await this.drain();
    const n = Math.min(chunk.length, this.head - offset);
    const before = Buffer.alloc(n);
    const got = fs.readSync(this.fd, before, 0, n, offset);
    if (got !== n || !before.equals(chunk.subarray(0, n))) {
      throw new ImprintError('E_DOWNLOAD_FAILED', `The file changed on the server during the download: the bytes it sent again from offset ${offset} differ from those received before. Start the flash again.`);
    }
    if (n < chunk.length) await this.writeNow(chunk.subarray(n), offset + n);
  }

  restart(changed = false): void | Promise<void> {
    // Followed by a reader (always, once a feed): keep what was received; it is compared as it comes again.
    if (!this.feed) return this.file.restart(changed);
    if (changed) throw new ImprintError('E_DOWNLOAD_FAILED', 'The file changed on the server during the download (it sent the file again from the start with another ETag or date, and ignores range requests). Start the flash again.');
  }

  /** The download is complete: the last bytes (not a whole O_DIRECT block) go to the file too. */
  finish(): void {
    this.ended = true;
    this.pump();
  }

  /** Resolves once the cache file holds everything received (rejects on its write error). */
  drain(): Promise<void> {
    if (!this.feed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.drained.push(resolve);
      this.pump();
    }).then(() => {
      if (this.writeError) throw this.writeError;
    });
  }

  /** Stops writing the cache file and closes the O_DIRECT descriptor (the caller closes `fd`). */
  async close(): Promise<void> {
    if (!this.feed) return;
    this.writeError ??= new ImprintError('E_CANCELLED', 'The download was closed.');
    await new Promise<void>((resolve) => {
      this.drained.push(resolve);
      this.pump();
    });
    if (this.directFd >= 0) fs.closeSync(this.directFd);
    this.directFd = -1;
  }

  /**
   * Writes the next pieces of the feed to the cache file behind the download,
   * a few at once: one at a time, each write paid the scheduling delays of a
   * busy machine (the thread pool's, then this thread's) in full, and the
   * cache file, not the drive, set the download's pace. The file's end moves
   * over the pieces in order, as each one before it is done.
   */
  private pump(): void {
    const feed = this.feed;
    if (!feed) return;
    for (const p of this.pieces) {
      if (this.writeError || this.inFlight >= CACHE_WRITES) break;
      if (p.state === 'redo') this.issue(feed, p);
    }
    while (!this.writeError && this.inFlight < CACHE_WRITES) {
      const next = this.nextPiece(feed);
      if (!next) break;
      const piece: CachePiece = { at: next.at, end: next.at + next.length, state: 'writing' };
      this.issued = piece.end;
      this.pieces.push(piece);
      // An OS image is half zeros: those pieces cost the disk nothing (the file already has its size and reads them as zeros).
      // Without this the cache file, not the drive, set the pace through the image's free space. Bounded by the ring.
      if (next.direct && feed.view(next.at, next.length).equals(ZEROS.subarray(0, next.length))) {
        piece.state = 'done';
      } else this.issue(feed, piece);
    }
    let moved = false;
    while (this.pieces[0]?.state === 'done') {
      this.cacheTail = (this.pieces.shift() as CachePiece).end;
      moved = true;
    }
    if (moved) feed.wake();
    const settled = this.inFlight === 0 && (this.writeError !== null || (this.cacheTail >= this.head && this.pieces.length === 0));
    if (settled) for (const done of this.drained.splice(0)) done();
  }

  private issue(feed: FeedRing, piece: CachePiece): void {
    const { at, end } = piece;
    const length = end - at;
    const direct = this.directFd >= 0 && !this.directRefused && at % ALIGNMENT === 0 && length % ALIGNMENT === 0;
    piece.state = 'writing';
    this.inFlight++;
    fs.write(direct ? this.directFd : this.fd, feed.view(at, length), 0, length, at, (err, n) => {
      this.inFlight--;
      if (err && direct && err.code === 'EINVAL') {
        // O_DIRECT opened but refused (a file system with larger blocks, or none at all): buffered from here, this piece again.
        this.directRefused = true;
        piece.state = 'redo';
      } else if (err) this.writeError ??= err;
      else if (n <= 0) this.writeError ??= Object.assign(new Error(`no progress writing the download's file at ${at}`), { code: 'ENOSPC' });
      else if (n < length) {
        // A short write: the rest again.
        piece.at = at + n;
        piece.state = 'redo';
      } else piece.state = 'done';
      this.pump();
    });
  }

  private nextPiece(feed: FeedRing): { at: number; length: number; direct: boolean } | null {
    const at = this.issued;
    // Never across the ring's end: a piece is one contiguous view.
    const limit = Math.min(this.head, at + CACHE_PIECE, (Math.floor(at / feed.size) + 1) * feed.size);
    if (limit <= at) return null;
    // Small pieces wait for more, unless the download ended or someone waits for the file.
    const eager = this.ended || this.drained.length > 0 || limit < this.head;
    // (A quarter of the ring at most: the download needs the room back.)
    if (!eager && limit - at < Math.min(CACHE_MIN_PIECE, feed.size / 4)) return null;
    const direct = this.directFd >= 0 && !this.directRefused;
    if (direct && at % ALIGNMENT === 0) {
      const end = alignDown(limit);
      if (end > at) return { at, length: end - at, direct: true };
    }
    // Buffered: up to the next aligned offset (the feed began mid-block), or the download's last bytes.
    const end = direct ? Math.min(limit, (Math.floor(at / ALIGNMENT) + 1) * ALIGNMENT) : limit;
    return { at, length: end - at, direct: false };
  }
}
