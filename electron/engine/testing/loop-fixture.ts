import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { allocAligned, alignUp } from '../io/aligned-buffer';
import { readFully, writeFully } from '../io/full-io';

/**
 * Real block devices for tests: loop devices over pre-allocated files in a
 * temp folder. They are always detached and their files deleted, even when
 * the test fails. Tests write only to devices made here, never to any other.
 */

export interface LoopDevice {
  /** `/dev/loopN`. */
  device: string;
  /** The file behind it. */
  backingFile: string;
  size: number;
}

export interface LoopOptions {
  /** Attach read-only (`losetup -r`): the kernel refuses writes. */
  readOnly?: boolean;
  /** Bytes to put in the backing file before attaching (from offset 0). */
  content?: Buffer;
}

let scratch: string | null = null;

/** One temp folder per test process for backing files; removed at exit. */
function scratchDir(): string {
  if (scratch === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-loops-'));
    scratch = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

/** Attaches a fresh loop device of `size` bytes (a multiple of 512). Prefer `withLoopDevice`. */
export function attachLoop(size: number, opts: LoopOptions = {}): LoopDevice {
  if (size % 512 !== 0) throw new Error(`loop size ${size} is not a multiple of 512`);
  const backingFile = fs.mkdtempSync(path.join(scratchDir(), 'loop-')) + '/backing.img';
  // Pre-allocated, not sparse: direct writes into holes are several times slower (FIELD-NOTES).
  execFileSync('fallocate', ['-l', String(size), backingFile]);
  if (opts.content) {
    const fd = fs.openSync(backingFile, 'r+');
    try {
      writeFully(fd, opts.content, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  const args = ['-f', '--show', '--direct-io=on', ...(opts.readOnly ? ['-r'] : []), backingFile];
  let device: string;
  try {
    device = execFileSync('losetup', args, { encoding: 'utf8' }).trim();
  } catch (err) {
    fs.rmSync(path.dirname(backingFile), { recursive: true, force: true });
    throw err;
  }
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed "${device}"`);
  return { device, backingFile, size };
}

/** Detaches (deferred by the kernel while something holds it open) and deletes the backing file. */
export function detachLoop(loop: LoopDevice): void {
  try {
    execFileSync('losetup', ['-d', loop.device], { stdio: 'ignore' });
  } finally {
    fs.rmSync(path.dirname(loop.backingFile), { recursive: true, force: true });
  }
}

/** True while the kernel still has `device` attached to a file. */
export function isAttached(device: string): boolean {
  return fs.existsSync(`/sys/block/${path.basename(device)}/loop/backing_file`);
}

/** Runs `fn` with a fresh loop device; always detaches it and deletes its file. */
export async function withLoopDevice<T>(size: number, fn: (loop: LoopDevice) => Promise<T> | T, opts: LoopOptions = {}): Promise<T> {
  const loop = attachLoop(size, opts);
  try {
    return await fn(loop);
  } finally {
    detachLoop(loop);
  }
}

/** Runs `fn` with several loop devices at once (sizes and options each), detaching all. */
export async function withLoopDevices<T>(specs: { size: number; opts?: LoopOptions }[], fn: (loops: LoopDevice[]) => Promise<T> | T): Promise<T> {
  const loops: LoopDevice[] = [];
  try {
    for (const s of specs) loops.push(attachLoop(s.size, s.opts));
    return await fn(loops);
  } finally {
    for (const l of loops) detachLoop(l);
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
