/**
 * Whether a backup folder's pieces come from the page cache or from the
 * disk, told by how long reading their files takes, so that a reader of many
 * pieces (a restore's threads, verify, export) reads them one after the
 * other while they are cached, the cheapest way, and several at once on
 * libuv's threads once they are not (piece-store.ts's readFileAhead). Each
 * piece is a file, and the kernel reads ahead within a file, never across
 * files: one read after the other waited for the disk once per piece.
 *
 * Measured on the bench drive's folder (64 KiB pieces, in batches of 64):
 * cached, the median read of a batch took 36-51 us and at most 5 of 64
 * took longer than 0.1 ms (the thread was preempted, on busy cores); with
 * the folder's pages dropped, the median took 0.13-0.28 ms and 36 to all 64
 * of them longer. Reading ahead costs CPU when the pieces are cached (a
 * thread hand-off per system call: verify took 2.3 s against 1.5 s), so it
 * is not the default.
 */

/** A read of a piece's file that takes longer than this found it on the disk. */
export const SLOW_READ_MS = 0.1;

/** Batches read ahead before the next is read one piece after the other again, to see whether the pieces are cached by now. */
const BATCHES_AHEAD_BEFORE_PROBE = 8;

export class ReadPace {
  private reads = 0;
  private slow = 0;
  private aheadLeft = 0;

  /** `always`: read every batch ahead (tests; a caller that knows the folder is on slow media). */
  constructor(private readonly always = false) {}

  /** Runs `read`, one piece's file read, and times it. */
  timed<T>(read: () => T): T {
    const t0 = performance.now();
    const got = read();
    this.reads++;
    if (performance.now() - t0 > SLOW_READ_MS) this.slow++;
    return got;
  }

  /**
   * Whether the next batch of pieces is to be read ahead; asked once per
   * batch. Most of the last batch's reads slow (its pieces were on the
   * disk): the next batches' likely are too.
   */
  nextAhead(): boolean {
    if (this.reads >= 8 && this.slow * 2 > this.reads) this.aheadLeft = BATCHES_AHEAD_BEFORE_PROBE;
    this.reads = 0;
    this.slow = 0;
    if (this.always) return true;
    if (this.aheadLeft === 0) return false;
    this.aheadLeft--;
    return true;
  }
}
