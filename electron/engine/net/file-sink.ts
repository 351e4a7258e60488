import * as fs from 'fs';
import { ImprintError } from '../errors';
import { isAllZero } from '../io/chunk-crc';
import type { GrowingFile } from '../io/growing-file';
import type { DownloadSink } from './http-download';

/**
 * Writes a download into an open file at the offsets it arrives at (a cache
 * entry's temporary file). With `followed`, a reader on another thread is
 * decoding the file as it grows (io/growing-file.ts): what it has read must
 * never change, so a server that sends the file again from byte 0 is held
 * to the bytes already written (compared, not rewritten), and a file that
 * changed on the server fails the download instead of splicing two files
 * under the reader.
 */
export class FileSink implements DownloadSink {
  /** The end of what the file holds, the furthest any response reached. */
  written = 0;

  constructor(
    /** A file made empty for this download (the cache's temporary file), written only through this sink. */
    private readonly fd: number,
    private readonly followed: GrowingFile | null = null,
  ) {}

  /**
   * Writes at once (no promise, so the download does not pause the body for
   * it); a failure comes back as a rejected promise, which the download
   * treats as the sink's error.
   */
  write(chunk: Buffer, offset: number): void | Promise<void> {
    try {
      this.writeNow(chunk, offset);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private writeNow(chunk: Buffer, offset: number): void {
    if (offset < this.written) {
      const n = Math.min(chunk.length, this.written - offset);
      const before = Buffer.alloc(n);
      const got = fs.readSync(this.fd, before, 0, n, offset);
      if (got !== n || !before.equals(chunk.subarray(0, n))) {
        throw new ImprintError('E_DOWNLOAD_FAILED', `The file changed on the server during the download: the bytes it sent again from offset ${offset} differ from those received before. Start the flash again.`);
      }
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
      offset += n;
    }
    if (offset >= this.written && isAllZero(chunk)) {
      // Zeros past the file's end become a hole, not written: an OS image is half zeros (the feed
      // leaves its runs of zeros as holes too, net/feed-sink.ts), and a hole reads as zeros.
      // The file was made empty and only this sink extends it: its size is `written`, short of the new end.
      fs.ftruncateSync(this.fd, offset + chunk.length);
      this.written = offset + chunk.length;
      this.followed?.advance(this.written);
      return;
    }
    let done = 0;
    // Short writes happen (a full disk on the way to ENOSPC): loop until all is down.
    // Synchronous: a chunk (64 KiB) lands in the page cache in microseconds, while a round
    // trip through libuv's pool per chunk (the body paused until each was done) held a
    // 1 GiB download, on a busy machine, to half the speed of a flash from disk.
    while (done < chunk.length) {
      const n = fs.writeSync(this.fd, chunk, done, chunk.length - done, offset + done);
      if (n === 0) throw new Error('the cache file accepted no bytes');
      done += n;
    }
    this.written = offset + chunk.length;
    this.followed?.advance(this.written);
  }

  restart(changed = false): void {
    // Nobody reads the file yet: start it over. Followed: keep it, and check what is sent again;
    // another file (its validator changed) would splice two files under the reader, where its bytes differ past ours.
    if (this.followed && changed) throw new ImprintError('E_DOWNLOAD_FAILED', 'The file changed on the server during the download (it sent the file again from the start with another ETag or date, and ignores range requests). Start the flash again.');
    if (this.followed) return;
    fs.ftruncateSync(this.fd, 0);
    this.written = 0;
  }
}
