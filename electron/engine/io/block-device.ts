import * as fs from 'fs';
import * as path from 'path';

/**
 * Facts about block devices that Node's fs does not give: `fstat` reports a
 * block device's size as 0, so sizes come from sysfs (Linux).
 */

export function isBlockDevice(p: string): boolean {
  try {
    return fs.statSync(p).isBlockDevice();
  } catch {
    return false;
  }
}

/** sysfs folder of a block device by its device number, e.g. /sys/dev/block/7:0. */
function sysfsDir(p: string): string {
  const rdev = fs.statSync(p).rdev;
  return `/sys/dev/block/${major(rdev)}:${minor(rdev)}`;
}

export function major(dev: number): number {
  return ((dev >> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

export function minor(dev: number): number {
  return (dev & 0xff) | ((dev >> 12) & 0xfff00);
}

/** Size in bytes of a block device, read fresh each call (a loop can shrink to 0 when detached). */
export function blockDeviceSize(p: string): number {
  const sectors = Number(fs.readFileSync(path.join(sysfsDir(p), 'size'), 'utf8').trim());
  return sectors * 512;
}

export function logicalBlockSize(p: string): number {
  try {
    return Number(fs.readFileSync(path.join(sysfsDir(p), 'queue', 'logical_block_size'), 'utf8').trim()) || 512;
  } catch {
    return 512;
  }
}

export function isReadOnlyDevice(p: string): boolean {
  try {
    return fs.readFileSync(path.join(sysfsDir(p), 'ro'), 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * The whole-disk device that holds a filesystem device number (st_dev of a
 * file): for a partition, its parent disk. Used to tell whether a drive holds
 * the image file being written. Null when it is not a block device (tmpfs...).
 */
export function diskOfDeviceNumber(dev: number): string | null {
  const dir = `/sys/dev/block/${major(dev)}:${minor(dev)}`;
  try {
    const real = fs.realpathSync(dir);
    // A partition's sysfs folder sits inside its disk's folder and has a `partition` file.
    const disk = fs.existsSync(path.join(real, 'partition')) ? path.dirname(real) : real;
    return `/dev/${path.basename(disk)}`;
  } catch {
    return null;
  }
}

/** Whole-disk devices behind the filesystem that holds `file`; also resolves loop backing chains lightly. */
export function disksHoldingFile(file: string): string[] {
  try {
    const disk = diskOfDeviceNumber(fs.statSync(file).dev);
    return disk ? [disk] : [];
  } catch {
    return [];
  }
}

/** True when two paths name the same device or the same file. */
export function sameDevice(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    if (sa.isBlockDevice() && sb.isBlockDevice()) return sa.rdev === sb.rdev;
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}
