import * as fs from 'fs';

/**
 * Read and write loops that never mistake a short transfer for completion.
 * docs/block-io.md: a buffered read across a bad range returns short without an
 * error, and a write straddling a device's end is short without an error.
 */

/** Writes all of `buf` at `position`; a write that makes no progress is an ENOSPC at that offset. */
export function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw Object.assign(new Error(`no progress writing at ${position + done}`), { code: 'ENOSPC', offset: position + done });
    done += n;
  }
}

/**
 * Reads up to `length` bytes at `position`, looping over short reads.
 * Returns the count read: less than asked only at end of file/device.
 */
export function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** fsync whose failure is an error: the only place a buffered write's EIO appears. */
export function fsyncChecked(fd: number): void {
  fs.fsyncSync(fd);
}

/** Closes each open descriptor (>= 0), ignoring errors: for closing after a failure that was already reported. */
export function closeQuietly(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      if (fd >= 0) fs.closeSync(fd);
    } catch {
      // Already reported, or already closed.
    }
  }
}
