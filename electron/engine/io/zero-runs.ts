import { spawn } from 'child_process';
import { ZeroCallSizer, ZERO_PACE, type ZeroPace } from './zero-pace';

/**
 * Runs of zeros in an image (free space: often half of an OS image) written
 * to a block device with the device's own "write zeroes" command instead of
 * zero-filled writes, as `qemu-img convert` does. The kernel guarantees that
 * the range then reads back as zeros (unlike a discard, which may not); where
 * the device has no such command the kernel writes the zeros itself, at the
 * device's speed, so nothing is lost by asking. SSDs and NVMe drives zero a
 * range without moving the data over the bus (and without wearing the flash);
 * a loop device over a file turns it into unwritten extents of the file.
 *
 * Node has no fallocate(2) and no ioctl(2): util-linux's `fallocate` program
 * (present on every Linux system) issues FALLOC_FL_ZERO_RANGE on the device,
 * which the block layer carries out as BLKDEV_ZERO_NOUNMAP zeroing. One
 * process costs a couple of milliseconds, so only runs of at least
 * MIN_ZERO_RUN bytes go this way; shorter ones are written like any data.
 */

/** The shortest run worth a process: 16 MiB takes ~8 ms to write at 2 GB/s, the call ~2 ms. */
export const MIN_ZERO_RUN = 16 << 20;

/** Zeros written for a run the drive refused go in pieces of this, each reported as it lands. */
const WRITTEN_PIECE = 16 << 20;

/** How runs of zeros reach a drive: zeroed by the drive's own command, or written as data. */
export type ZeroOutMode = 'device' | 'write';

/** Zeroes [offset, offset + length) of a block device while the caller goes on; resolves false when the device or system cannot. */
export type BackgroundZeroOut = (offset: number, length: number) => Promise<boolean>;

function fallocateArgs(device: string, offset: number, length: number): string[] {
  return ['--zero-range', '--keep-size', '--offset', String(offset), '--length', String(length), device];
}

/**
 * The `fallocate --zero-range` call for one device, in a child process the
 * calling thread does not wait for. It opens the device without O_EXCL, so
 * it works beside the writer's exclusive descriptor; it ends only once the
 * range is zeroed (blkdev_issue_zeroout waits), and the writer's closing
 * fsync flushes it to the medium with everything else. The kernel clamps a
 * range that runs past the device's end instead of refusing it: the writer
 * checks the drive's size first (E_TARGET_END). Zeroing a long run takes
 * the drive from tens of milliseconds (a loop device, an SSD) to seconds (a
 * USB stick, where the kernel writes the zeros itself), and the writer
 * meanwhile writes the data after the run (the ranges are disjoint) instead
 * of holding up the ring, and with it the image's reader or a download.
 * `signal` kills a call still running (the write was abandoned). Null off
 * Linux, or when the caller asks for plain writes ('write').
 */
export function deviceZeroOutInBackground(device: string, mode: ZeroOutMode = 'device', signal?: AbortSignal): BackgroundZeroOut | null {
  if (process.platform !== 'linux' || mode === 'write') return null;
  return (offset, length) =>
    new Promise<boolean>((resolve) => {
      const child = spawn('fallocate', fallocateArgs(device, offset, length), { stdio: 'ignore', env: { ...process.env, LC_ALL: 'C' }, signal });
      // (An abort, or no such program: 'error'; either way the run is not known to be zeroed.)
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    });
}

/**
 * Gathers consecutive all-zero pieces of the image into runs and has each run
 * zeroed once it ends (a non-zero piece, or the end of the image). The drive
 * zeroes a run in the background, one run at a time, while the caller goes
 * on writing what follows it; `settled` waits for every run handed over. A
 * long run goes to the drive in several calls (io/zero-pace.ts), each told
 * to `onLanded` as it ends: a USB stick zeroes at its write speed, and one
 * call for a GiB of free space left the job without progress for a minute. A
 * run that is too short, misaligned for the device, or that the device
 * refuses to zero is written as ordinary data instead: the result on the
 * device is the same either way, and errors then surface through the write
 * path, which knows how to locate a bad sector. After the first refusal the
 * device is not asked again.
 */
export class ZeroRuns {
  private start = 0;
  private length = 0;
  private zeroOut: BackgroundZeroOut | null;
  private readonly sizer: ZeroCallSizer;
  /** The runs handed to the drive, in order: each starts once the one before it is done. */
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private stopped = false;
  /** Bytes zeroed by the device's command so far. */
  zeroedBytes = 0;

  constructor(
    zeroOut: BackgroundZeroOut | null,
    private readonly writeZeros: (offset: number, length: number) => void,
    private readonly blockSize: number,
    private readonly minRun = MIN_ZERO_RUN,
    /** Told of each run once it is on the device (zeroed or written), maybe after `add` or `flush` returned. */
    private readonly onLanded: (offset: number, length: number) => void = () => {},
    pace: ZeroPace = ZERO_PACE,
  ) {
    this.zeroOut = zeroOut;
    this.sizer = new ZeroCallSizer(blockSize, pace);
  }

  /** Whether all-zero pieces are worth holding back at all. */
  get enabled(): boolean {
    return this.zeroOut !== null;
  }

  /** Bytes held back, not yet handed to the device. */
  get pending(): number {
    return this.length;
  }

  /** A write of zeros done for a refused run failed (the device's error); null while none did. */
  get failed(): unknown {
    return this.failure;
  }

  /** Adds an all-zero piece; pieces arrive in image order. */
  add(offset: number, length: number): void {
    if (this.length > 0 && offset === this.start + this.length) {
      this.length += length;
      return;
    }
    this.flush();
    this.start = offset;
    this.length = length;
  }

  /** Hands the held-back run to the device (zeroed in the background), or writes it now when it is not worth a call. */
  flush(): void {
    const { start, length } = this;
    if (length === 0) return;
    this.start = 0;
    this.length = 0;
    const aligned = start % this.blockSize === 0 && length % this.blockSize === 0;
    if (this.zeroOut && aligned && length >= this.minRun) {
      this.queue = this.queue.then(() => this.zeroNow(start, length));
      return;
    }
    this.writeZeros(start, length);
    this.onLanded(start, length);
  }

  /** Zeroes the run call by call (each sized by the drive's pace), or writes what the drive refused. */
  private async zeroNow(start: number, length: number): Promise<void> {
    const end = start + length;
    try {
      for (let at = start; at < end; ) {
        if (this.stopped || this.failure) return;
        if (this.zeroOut === null) {
          // Refused (now or by an earlier run): written as data, in pieces that each say they landed.
          const n = Math.min(end - at, WRITTEN_PIECE);
          this.writeZeros(at, n);
          this.onLanded(at, n);
          at += n;
          continue;
        }
        const n = this.sizer.next(end - at);
        const began = Date.now();
        const zeroed = await this.zeroOut(at, n);
        if (this.stopped) return;
        if (!zeroed) {
          this.zeroOut = null;
          continue;
        }
        this.sizer.took(n, Date.now() - began);
        this.zeroedBytes += n;
        this.onLanded(at, n);
        at += n;
      }
    } catch (err) {
      this.failure ??= err;
    }
  }

  /** Resolves once every run handed over is on the device; rejects with the first failure. */
  async settled(): Promise<void> {
    await this.queue;
    if (this.failure) throw this.failure;
  }

  /** The write was abandoned: runs still queued are dropped (the caller aborts the one running). */
  stop(): void {
    this.stopped = true;
  }
}

