/**
 * How much of a drive one "write zeroes" call (io/zero-runs.ts) is given.
 * A call returns only once its whole range is zeroed. A drive with its own
 * command (SSD, NVMe, a loop device) zeroes a GiB in milliseconds; a USB
 * stick or SD card has none, and the kernel writes the zeros to it at the
 * card's 2-20 MB/s. A GiB of free space in one call was then a minute with
 * no word from the drive: the progress bar stood still and the stall
 * watchdog (30 s) called a working stick hung. So a run is cut into calls
 * sized from the rate the drive showed, to take about `targetMs` each: the
 * first is small, and they grow at most `growth` times per call, because a
 * stick's write cache can swallow one small call at once and then take the
 * next at the card's own speed: after a 16 MiB call the cache swallowed,
 * 2x is 32 MiB, 16 s at a slow card's 2 MB/s, inside the watchdog's 30 s;
 * 4x was 64 MiB, 32 s, and failed it (so did a test drive whose bucket let
 * its first 16 MiB through at once, under a 6 s watchdog).
 */
export interface ZeroPace {
  /** The first call's bytes: at 1 MB/s still well inside the stall timeout. */
  first: number;
  /** Never less than this per call (the drive's rate allowing). */
  min: number;
  /** Never more than this per call: a fast drive does it in one go anyway. */
  max: number;
  /** What one call should take. */
  targetMs: number;
  /** How many times larger than the last call the next may be. */
  growth: number;
}

export const ZERO_PACE: ZeroPace = { first: 16 << 20, min: 4 << 20, max: 1 << 30, targetMs: 1000, growth: 2 };

/** Sizes successive calls over one drive from how long each took. */
export class ZeroCallSizer {
  private length: number;

  constructor(
    private readonly blockSize: number,
    private readonly pace: ZeroPace = ZERO_PACE,
  ) {
    this.length = this.aligned(pace.first);
  }

  /** The next call's bytes, given `rest` still to zero: all of it if that is no more. */
  next(rest: number): number {
    return Math.min(rest, this.length);
  }

  /** A call of `length` bytes took `ms`: the next is sized to take about targetMs at that rate. */
  took(length: number, ms: number): void {
    const atRate = (length * this.pace.targetMs) / Math.max(1, ms);
    const bounded = Math.max(this.pace.min, Math.min(this.pace.max, length * this.pace.growth, atRate));
    this.length = this.aligned(bounded);
  }

  private aligned(n: number): number {
    return Math.max(this.blockSize, Math.floor(n / this.blockSize) * this.blockSize);
  }
}
