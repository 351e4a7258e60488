import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTool } from './run-tool';

/**
 * Plain loop devices for tests (needs root and /dev/loop-control). The fault
 * harness (faulty-device.ts) uses attachLoop with direct I/O over an nbdfuse
 * file; tests that only need a healthy block device use withLoopDevice.
 */

export interface AttachOptions {
  /** `losetup -r`: the kernel refuses writes to the device. */
  readOnly?: boolean;
  /**
   * `losetup --direct-io=on`: the loop reads and writes its file with
   * O_DIRECT instead of through the file's page cache. Required over a FUSE
   * file whose errors must reach the caller (FIELD-NOTES); checked after
   * attaching, because the kernel silently falls back to buffered I/O when
   * the file refuses O_DIRECT.
   */
  directIo?: boolean;
}

/** Attaches the first free loop device to `file`; returns `/dev/loopN`. */
export async function attachLoop(file: string, opts: AttachOptions = {}): Promise<string> {
  const args = ['-f', '--show'];
  if (opts.directIo) args.push('--direct-io=on');
  if (opts.readOnly) args.push('-r');
  args.push(file);
  const device = (await runTool('losetup', args)).stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed "${device}" for ${file}`);
  if (opts.directIo && loopSysfs(device, 'loop/dio') !== '1') {
    await detachLoop(device);
    throw new Error(`${device}: the kernel refused direct I/O on ${file}; injected read errors would be hidden`);
  }
  return device;
}

/**
 * Detaches `device`. If something still holds it open the kernel defers the
 * detach to the last close (autoclear), so this never blocks on a user of
 * the device. A device that is already gone is not an error: teardown paths
 * call this more than once.
 */
export async function detachLoop(device: string): Promise<void> {
  if (!isLoopAttached(device)) return;
  try {
    await runTool('losetup', ['-d', device]);
  } catch (err) {
    if (isLoopAttached(device) && !isAutoclearPending(device)) throw err;
  }
}

/** True while the kernel has `device` bound to a file. */
export function isLoopAttached(device: string): boolean {
  return fs.existsSync(`/sys/block/${path.basename(device)}/loop/backing_file`);
}

/**
 * Loop devices bound to `file`, from sysfs alone: unlike `losetup -j`, this
 * never stats the file, which could block on a hung FUSE mount.
 */
export function loopsBackedBy(file: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'));
  } catch {
    return [];
  }
  return names.filter((n) => loopSysfs(n, 'loop/backing_file') === file).map((n) => `/dev/${n}`);
}

function isAutoclearPending(device: string): boolean {
  return loopSysfs(device, 'loop/autoclear') === '1';
}

/** A sysfs attribute of a block device (`size`, `loop/dio`...), trimmed; '' if absent. */
export function loopSysfs(device: string, attribute: string): string {
  try {
    return fs.readFileSync(`/sys/class/block/${path.basename(device)}/${attribute}`, 'utf8').trim();
  } catch {
    return '';
  }
}

export interface LoopDeviceOptions extends AttachOptions {
  /** Bytes; a multiple of 512 (the loop's logical block size). */
  size: number;
  /**
   * Backing file to use: created (or grown) to `size` if needed and kept
   * afterwards. Without it a temp file is made and deleted.
   */
  file?: string;
  /**
   * Leave the file sparse instead of pre-allocating it. Sparse is cheap for
   * large devices, but direct writes into holes are 5-10x slower
   * (FIELD-NOTES), so benchmarks want the default (pre-allocated).
   */
  sparse?: boolean;
}

/** Runs `fn` with a loop device over a file of `size` bytes; always detaches it and removes temp files. */
export async function withLoopDevice<T>(opts: LoopDeviceOptions, fn: (dev: { device: string; file: string }) => Promise<T>): Promise<T> {
  if (!Number.isSafeInteger(opts.size) || opts.size <= 0 || opts.size % 512 !== 0) {
    throw new Error(`loop size ${opts.size} is not a positive multiple of 512`);
  }
  const tempDir = opts.file === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-loop-')) : undefined;
  const file = opts.file ?? path.join(tempDir as string, 'disk.img');
  let device: string | undefined;
  try {
    await prepareFile(file, opts.size, opts.sparse === true);
    device = await attachLoop(file, opts);
    return await fn({ device, file });
  } finally {
    try {
      if (device !== undefined) await detachLoop(device);
    } finally {
      if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
    }
  }
}

/** Makes `file` at least `size` bytes, sparse or allocated; never shrinks a caller's file. */
async function prepareFile(file: string, size: number, sparse: boolean): Promise<void> {
  fs.closeSync(fs.openSync(file, 'a'));
  if (fs.statSync(file).size < size) fs.truncateSync(file, size);
  if (sparse) return;
  try {
    await runTool('fallocate', ['-l', String(size), file]);
  } catch {
    // A filesystem without fallocate: stay sparse. Only speed suffers, and
    // zero-filling here could overwrite a caller's file.
  }
}
