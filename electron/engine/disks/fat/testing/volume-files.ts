import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AllocationMap } from '../../filesystem-driver';
import { volumeFromFd, type Volume } from '../../volume';
import { runToolSync } from '../../../testing/run-tool';

/**
 * Test support for the FAT and exFAT readers: tools run from argv arrays,
 * images opened as Volumes, and the end-to-end allocation check's "junk
 * outside the map" copy.
 */

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` (testing/run-tool.ts); never throws on a non-zero exit: the test looks at `status`. */
export function run(cmd: string, args: string[], input?: Buffer): Run {
  const r = runToolSync(cmd, args, { input, allowFail: true, env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8' } });
  return { status: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

/** Runs `cmd args` and returns stdout; throws with stderr on a non-zero exit. */
export function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `file` (or its first `size` bytes) as a Volume; call `close` when done. */
export function openVolume(file: string, size?: number): { volume: Volume; close: () => void } {
  const fd = fs.openSync(file, 'r');
  return { volume: volumeFromFd(fd, 0, size ?? fs.fstatSync(fd).size), close: () => fs.closeSync(fd) };
}

export async function withVolume<T>(file: string, fn: (v: Volume) => Promise<T>, size?: number): Promise<T> {
  const { volume, close } = openVolume(file, size);
  try {
    return await fn(volume);
  } finally {
    close();
  }
}

export const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/**
 * Copies `src` to `dst`, then overwrites every byte the map leaves out with
 * junk (a repeated random MiB: never zeros, never the old data), so whatever
 * the filesystem still needs from those bytes is destroyed.
 * Returns the number of bytes overwritten.
 */
export function scrambleOutside(src: string, dst: string, map: AllocationMap): number {
  if (map.kind !== 'used-blocks') throw new Error(`expected a used-blocks map, got whole: ${map.reason}`);
  fs.copyFileSync(src, dst);
  const size = fs.statSync(dst).size;
  const junk = crypto.randomBytes(1 << 20);
  const fd = fs.openSync(dst, 'r+');
  let written = 0;
  try {
    const fill = (start: number, end: number) => {
      for (let at = start; at < end; ) {
        const n = Math.min(junk.length, end - at);
        fs.writeSync(fd, junk, 0, n, at);
        at += n;
        written += n;
      }
    };
    let pos = 0;
    for (const r of map.ranges) {
      fill(pos, r.start);
      pos = r.start + r.length;
    }
    fill(pos, size);
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

/** Checks the map's invariants: sorted, non-overlapping, merged, inside the volume, usedBytes their sum. */
export function checkMapShape(map: AllocationMap, volumeSize: number): string | null {
  if (map.kind !== 'used-blocks') return `whole: ${map.reason}`;
  let end = -1;
  let sum = 0;
  for (const r of map.ranges) {
    if (r.length <= 0) return `empty range at ${r.start}`;
    if (r.start <= end) return `range at ${r.start} overlaps or touches the one before`;
    end = r.start + r.length;
    if (end > volumeSize) return `range at ${r.start} runs past the volume`;
    sum += r.length;
  }
  return sum === map.usedBytes ? null : `usedBytes ${map.usedBytes} but ranges sum to ${sum}`;
}

/** Bytes of the map inside [start, end). */
export function mappedBytesIn(map: AllocationMap, start: number, end: number): number {
  if (map.kind !== 'used-blocks') return 0;
  let n = 0;
  for (const r of map.ranges) n += Math.max(0, Math.min(end, r.start + r.length) - Math.max(start, r.start));
  return n;
}
