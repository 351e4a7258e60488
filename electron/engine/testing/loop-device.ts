import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { allocAligned, alignUp } from '../io/aligned-buffer';
import { readFully, writeFully } from '../io/full-io';
import { runTool } from './run-tool';

/**
 * Real block devices for tests: loop devices over files (needs root and
 * /dev/loop-control). Tests write only to devices made here, never to any
 * other.
 *
 * - `withLoopDevice` / `withLoopDevices`: the usual way. A fresh file (or the
 *   caller's), attached with direct I/O, always detached afterwards and its
 *   temp file deleted, even when the test fails.
 * - `createLoopDevice` / `removeLoopDevice`: the same, for a test that must
 *   decide itself when the device goes away.
 * - `attachLoop` / `detachLoop`: the bare losetup calls over an existing file,
 *   for the fault harness (faulty-device.ts), whose file is an nbdfuse mount.
 * - `readDirect`, `writeDirect`, `firstDeviceDifference`: what the medium
 *   holds, read with O_DIRECT so the page cache cannot answer instead.
 */

export interface AttachOptions {
  /** `losetup -r`: the kernel refuses writes to the device. */
  readOnly?: boolean;
  /**
   * `losetup --direct-io=on`: the loop reads and writes its file with
   * O_DIRECT instead of through the file's page cache. Required over a FUSE
   * file whose errors must reach the caller (docs/block-io.md); checked after
   * attaching, because the kernel silently falls back to buffered I/O when
   * the file refuses O_DIRECT.
   */
  directIo?: boolean;
  /** `losetup --sector-size`: the device's logical sector size (4096 for a 4Kn drive); 512 by default. */
  sectorSize?: number;
}

/** Attaches the first free loop device to `file`; returns `/dev/loopN`. */
export async function attachLoop(file: string, opts: AttachOptions = {}): Promise<string> {
  const args = ['-f', '--show'];
  if (opts.directIo) args.push('--direct-io=on');
  if (opts.readOnly) args.push('-r');
  if (opts.sectorSize) args.push('--sector-size', String(opts.sectorSize));
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
  // Partitions added with partx (a loop without -P, as the format job and tests do) outlive
  // the detach: the next user of this loop number would find them and fail to add its own.
  if (hasPartitions(device)) await runTool('partx', ['-d', device]).catch(() => undefined);
  try {
    await runTool('losetup', ['-d', device]);
  } catch (err) {
    if (isLoopAttached(device) && !isAutoclearPending(device)) throw err;
  }
}

function hasPartitions(device: string): boolean {
  const name = path.basename(device);
  try {
    return fs.readdirSync(`/sys/block/${name}`).some((child) => child.startsWith(`${name}p`));
  } catch {
    return false;
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

/** A loop device made by this module. */
export interface LoopDevice {
  /** `/dev/loopN`. */
  device: string;
  /** The file behind it. A temp file sits alone in its own folder. */
  backingFile: string;
  /** Bytes. */
  size: number;
}

export interface LoopOptions {
  /** Attach read-only (`losetup -r`): the kernel refuses writes. */
  readOnly?: boolean;
  /**
   * Attach with `--direct-io=on` (the default): writes reach the file, not
   * just the page cache, as on real media. `false` attaches buffered.
   */
  directIo?: boolean;
  /** The device's logical sector size (`losetup --sector-size`). */
  sectorSize?: number;
  /** Bytes to put in the backing file before attaching (from offset 0). */
  content?: Buffer;
  /**
   * Backing file to use: created (or grown) to the size if needed and kept
   * afterwards. Without it a temp file is made and deleted.
   */
  file?: string;
  /**
   * Leave the file sparse instead of pre-allocating it. Sparse is cheap for
   * large devices, but direct writes into holes are 5-10x slower
   * (docs/block-io.md), so the default is pre-allocated.
   */
  sparse?: boolean;
}

let scratch: string | null = null;

/**
 * One temp folder per test process for backing files; removed at exit, so a
 * test killed before its `finally` still leaves no files behind.
 */
function scratchDir(): string {
  if (scratch === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-loops-'));
    scratch = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

/**
 * Attaches a loop device of `size` bytes (a positive multiple of 512) over a
 * new temp file or `opts.file`. Prefer `withLoopDevice`; whoever calls this
 * calls `removeLoopDevice` in a `finally`.
 */
export async function createLoopDevice(size: number, opts: LoopOptions = {}): Promise<LoopDevice> {
  if (!Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) {
    throw new Error(`loop size ${size} is not a positive multiple of 512`);
  }
  const backingFile = opts.file ?? path.join(fs.mkdtempSync(path.join(scratchDir(), 'loop-')), 'backing.img');
  try {
    await prepareFile(backingFile, size, opts);
    const device = await attachLoop(backingFile, { readOnly: opts.readOnly, directIo: opts.directIo ?? true, sectorSize: opts.sectorSize });
    return { device, backingFile, size };
  } catch (err) {
    if (opts.file === undefined) removeTempFile(backingFile);
    throw err;
  }
}

/**
 * Detaches (deferred by the kernel while something holds the device open)
 * and deletes the backing file if it was a temp file; a caller's file is kept.
 */
export async function removeLoopDevice(loop: LoopDevice | null | undefined): Promise<void> {
  if (!loop) return;
  try {
    // Partitions announced with `partx -a` (no udev here) go first, or their nodes outlive the device.
    if (partitionsOf(loop.device).length > 0) await runTool('partx', ['-d', loop.device], { allowFail: true });
    await detachLoop(loop.device);
  } finally {
    // A temp file is <scratch>/loop-XXXXXX/backing.img; anything else is the caller's.
    if (scratch !== null && path.dirname(path.dirname(loop.backingFile)) === scratch) removeTempFile(loop.backingFile);
  }
}

/** The partitions the kernel knows on `device` (`loop0p1`...), from sysfs. */
function partitionsOf(device: string): string[] {
  const name = path.basename(device);
  try {
    return fs.readdirSync(`/sys/block/${name}`).filter((n) => n.startsWith(`${name}p`));
  } catch {
    return [];
  }
}

function removeTempFile(backingFile: string): void {
  fs.rmSync(path.dirname(backingFile), { recursive: true, force: true });
}

/** Runs `fn` with a loop device of `size` bytes; always detaches it and deletes its temp file. */
export async function withLoopDevice<T>(size: number, fn: (loop: LoopDevice) => Promise<T> | T, opts: LoopOptions = {}): Promise<T> {
  const loop = await createLoopDevice(size, opts);
  try {
    return await fn(loop);
  } finally {
    await removeLoopDevice(loop);
  }
}

/** Runs `fn` with several loop devices at once (a size and options each); always removes them all. */
export async function withLoopDevices<T>(specs: { size: number; opts?: LoopOptions }[], fn: (loops: LoopDevice[]) => Promise<T> | T): Promise<T> {
  const loops: LoopDevice[] = [];
  try {
    for (const s of specs) loops.push(await createLoopDevice(s.size, s.opts));
    return await fn(loops);
  } finally {
    // Every device is removed even if one removal fails; the first failure is then thrown.
    const failures: unknown[] = [];
    for (const l of loops) {
      try {
        await removeLoopDevice(l);
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}

/** Makes `file` at least `size` bytes, sparse or allocated, then writes `content`; never shrinks a caller's file. */
async function prepareFile(file: string, size: number, opts: LoopOptions): Promise<void> {
  fs.closeSync(fs.openSync(file, 'a'));
  if (fs.statSync(file).size < size) fs.truncateSync(file, size);
  if (!opts.sparse) {
    try {
      await runTool('fallocate', ['-l', String(size), file]);
    } catch {
      // A filesystem without fallocate: stay sparse. Only speed suffers, and
      // zero-filling here could overwrite a caller's file.
    }
  }
  if (opts.content) {
    const fd = fs.openSync(file, 'r+');
    try {
      writeFully(fd, opts.content, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

function openDirect(device: string, flags: number): number {
  return fs.openSync(device, flags | fs.constants.O_DIRECT);
}

/**
 * Reads `length` bytes at `offset` from the device itself (O_DIRECT, so not
 * from the page cache): what a test compares is what the medium holds.
 */
export function readDirect(device: string, offset: number, length: number): Buffer {
  const start = Math.floor(offset / 4096) * 4096;
  const span = alignUp(offset + length) - start;
  const buf = allocAligned(span);
  const fd = openDirect(device, fs.constants.O_RDONLY);
  try {
    const n = readFully(fd, buf, 0, span, start);
    return Buffer.from(buf.subarray(offset - start, Math.min(n, offset - start + length)));
  } finally {
    fs.closeSync(fd);
  }
}

/** Overwrites bytes on the device with O_DIRECT (read-modify-write of whole 4 KiB blocks). */
export function writeDirect(device: string, offset: number, data: Buffer): void {
  const start = Math.floor(offset / 4096) * 4096;
  const span = alignUp(offset + data.length) - start;
  const buf = allocAligned(span);
  const fd = openDirect(device, fs.constants.O_RDWR);
  try {
    readFully(fd, buf, 0, span, start);
    data.copy(buf, offset - start);
    writeFully(fd, buf, start);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The first offset where the device (read with O_DIRECT) differs from
 * `expected` (a file or a Buffer), over `length` bytes; -1 when equal.
 */
export function firstDeviceDifference(device: string, expected: string | Buffer, length?: number): number {
  const total = length ?? (typeof expected === 'string' ? fs.statSync(expected).size : expected.length);
  const CHUNK = 4 << 20;
  const devBuf = allocAligned(CHUNK);
  const imgBuf = Buffer.alloc(CHUNK);
  const dfd = openDirect(device, fs.constants.O_RDONLY);
  const ifd = typeof expected === 'string' ? fs.openSync(expected, 'r') : -1;
  try {
    for (let pos = 0; pos < total; pos += CHUNK) {
      const want = Math.min(CHUNK, total - pos);
      const got = readFully(dfd, devBuf, 0, alignUp(want), pos);
      const ref = typeof expected === 'string' ? (readFully(ifd, imgBuf, 0, want, pos), imgBuf) : expected.subarray(pos, pos + want);
      if (got >= want && devBuf.subarray(0, want).equals(ref.subarray(0, want))) continue;
      for (let i = 0; i < want; i++) {
        if (i >= got || devBuf[i] !== ref[i]) return pos + i;
      }
    }
    return -1;
  } finally {
    fs.closeSync(dfd);
    if (ifd >= 0) fs.closeSync(ifd);
  }
}
