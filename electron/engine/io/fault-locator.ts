import { errnoOf } from '../errors';

/**
 * Finds where a failed transfer really failed. A 4 MiB O_DIRECT write or read
 * that fails says nothing about which sector refused it; reporting the
 * chunk's start would send a person (or a bad-block list) to the wrong place.
 * These functions split the failed range in halves, down to the logical
 * sector, and return the first sector that fails on its own.
 *
 * They take the transfer as a function, so they work on any descriptor (and
 * in tests on a fake medium). Pure control flow: no messages, no ImprintError.
 */

/** One transfer of `buf` at byte `offset`; throws the OS error on failure. */
export type Transfer = (buf: Buffer, offset: number) => void;

/** The first sector that fails on its own, and the error it failed with. */
export interface SectorFault {
  offset: number;
  error: unknown;
}

/**
 * Errors that may go away on a second try (a USB bridge resetting, a busy
 * controller). EIO is among them: a bad sector gives EIO too, which is why a
 * sector is only called bad after it failed every try. ENOSPC, EROFS and the
 * like are answers, not hiccups: they are never retried.
 */
const MAYBE_TRANSIENT = new Set(['EIO', 'ETIMEDOUT', 'EAGAIN', 'EBUSY', 'EINTR']);

export function looksTransient(err: unknown): boolean {
  const code = errnoOf(err);
  return code !== undefined && MAYBE_TRANSIENT.has(code);
}

export interface LocateOptions {
  /** Extra tries of a failing sector when its error looks transient. Bounded: a bad sector costs a few tries, not minutes. */
  retries?: number;
  /** Pause before each retry, in ms (the worker's thread sleeps; nothing else runs on it). */
  retryDelayMs?: number;
}

/** Default retries of one sector: two, as a transient error rarely outlasts a second try. */
export const SECTOR_RETRIES = 2;
/**
 * Pause before a retry. Owner: the writer/reader thread doing the locating.
 * 100 ms lets a bus reset settle without making a bad sector slow to report.
 */
const RETRY_DELAY_MS = 100;

/**
 * Re-does a transfer of `buf` at `offset` that failed as a whole, half by
 * half down to `sector` bytes. Returns null when every piece went through
 * (the failure was transient; for a write, all of `buf` is now on the
 * medium), or the first sector that still fails after its retries.
 *
 * Costs about two transfers per halving (log2(length / sector) levels): for
 * 4 MiB in 512-byte sectors, some 26 small transfers.
 */
export function locateFault(transfer: Transfer, buf: Buffer, offset: number, sector: number, opts: LocateOptions = {}): SectorFault | null {
  if (!(sector > 0) || offset % sector !== 0) throw new RangeError(`offset ${offset} is not aligned to the ${sector}-byte sector`);
  const retries = opts.retries ?? SECTOR_RETRIES;
  const delay = opts.retryDelayMs ?? RETRY_DELAY_MS;

  const attempt = (from: number, len: number): SectorFault | null => {
    const piece = buf.subarray(from, from + len);
    try {
      transfer(piece, offset + from);
      return null;
    } catch (err) {
      if (len > sector) return split(from, len);
      let last = err;
      for (let i = 0; i < retries && looksTransient(last); i++) {
        sleep(delay);
        try {
          transfer(piece, offset + from);
          return null;
        } catch (again) {
          last = again;
        }
      }
      return { offset: offset + from, error: last };
    }
  };
  // The whole range failed already: start by halving it rather than trying it again.
  const split = (from: number, len: number): SectorFault | null => {
    const half = Math.max(sector, Math.floor(len / 2 / sector) * sector);
    return attempt(from, half) ?? attempt(from + half, len - half);
  };
  return buf.length > sector ? split(0, buf.length) : attempt(0, buf.length);
}

/**
 * The first unreadable byte offset in [lo, hi), assuming everything before
 * some point reads and everything after it fails (a drive that ends early).
 * Binary search by single-sector reads: about 30 reads for a terabyte.
 * Returns `hi` when every sector reads. `lo` and `hi` are multiples of `sector`.
 */
export function findReadableEnd(canRead: (offset: number) => boolean, lo: number, hi: number, sector: number): number {
  let a = lo;
  let b = hi; // the answer lies in [a, b]
  while (a < b) {
    const mid = a + Math.floor((b - a) / sector / 2) * sector;
    if (canRead(mid)) a = mid + sector;
    else b = mid;
  }
  return a;
}

function sleep(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
