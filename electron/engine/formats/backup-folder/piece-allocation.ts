import * as fs from 'fs';

/**
 * What a backup folder's pieces take on the disk that holds it, as its
 * filesystem allocates them, measured on a sample of the files a backup
 * stores. Each piece is a file of about 30-64 KiB, and a filesystem gives
 * every file whole allocation units: 4 KiB on NTFS, ext4 or APFS, but
 * 128 KiB on exFAT as Windows formats disks over 32 GB, and 32 KiB on
 * FAT32. On such a disk the folder takes several times the space of its
 * data: the bench drive's first generation, 397 MB compressed in 11,714
 * pieces, took 1.47 GiB on an exFAT volume with 128 KiB clusters, where its
 * single-file backup takes 372 MiB. The backup says so (with the measured
 * figure, not a guess from the filesystem's name or its reported block
 * size, which network filesystems set to their transfer size) while it
 * runs, so the user can choose a single file or another disk before the
 * disk fills.
 */

/** Files measured: enough to find the allocation unit, few enough that the stat calls cost nothing (a backup stores ~12,000 per GB). */
export const SAMPLE_FILES = 256;
/** Space on the disk this many times the data's is worth a warning: 4 KiB blocks round 64 KiB pieces up by a few per cent only. */
export const WARN_RATIO = 1.5;

/**
 * The filesystem's allocation unit, found as the greatest common divisor of
 * what it allocated to the sampled files (each a multiple of it; the
 * smallest one alone would take a 64 KiB piece of random data on ext4 for
 * the unit), and what the pieces stored take on the disk at that unit.
 */
export class AllocationSample {
  /** Files measured so far. */
  files = 0;
  /** The allocation unit in bytes, once a file was measured. */
  unit: number | null = null;
  /** Bytes of the pieces counted, and what they take on the disk (each rounded up to the unit). */
  storedBytes = 0;
  diskBytes = 0;

  get full(): boolean {
    return this.files >= SAMPLE_FILES;
  }

  /**
   * Measures one stored file. A filesystem that reports no allocation
   * (st_blocks of 0 for a file with data, as some network and FUSE
   * filesystems, and inline data, do) teaches nothing: no unit is claimed.
   */
  measure(file: string): void {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch {
      return;
    }
    if (!st.isFile() || st.size === 0 || !(st.blocks > 0)) return;
    this.files++;
    this.unit = gcd(this.unit ?? 0, st.blocks * 512);
  }

  /** Counts a stored piece of `size` bytes (after the batch it came in was measured). */
  count(size: number): void {
    if (this.unit === null) return;
    this.storedBytes += size;
    this.diskBytes += Math.ceil(size / this.unit) * this.unit;
  }

  /** Disk bytes per stored byte, or null before anything was counted. */
  ratio(): number | null {
    return this.unit !== null && this.storedBytes > 0 ? this.diskBytes / this.storedBytes : null;
  }
}

function gcd(a: number, b: number): number {
  while (b > 0) [a, b] = [b, a % b];
  return a;
}

/** The warning a backup gives when its pieces take WARN_RATIO times their size or more on `folder`'s disk, else null. */
export function allocationWarning(folder: string, sample: AllocationSample): string | null {
  const ratio = sample.ratio();
  if (ratio === null || ratio < WARN_RATIO) return null;
  // In KiB, as cluster sizes are known (128 KiB), not in kB.
  const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;
  return (
    `The disk holding ${folder} allocates space in units of ${kib(sample.unit ?? 0)}, and each stored piece takes whole units ` +
    `(a filesystem with large clusters, as exFAT has on disks over 32 GB): the pieces stored so far take ${ratio.toFixed(1)} times their size there. ` +
    `A single-file backup (imprint backup DRIVE FILE.img.zst) does not, nor does a backup folder on a disk formatted NTFS, ext4 or APFS.`
  );
}
