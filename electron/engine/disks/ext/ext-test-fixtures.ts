import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { attachLoop, detachLoop } from '../../testing/loop-device';
import { resolveTool, runTool } from '../../testing/run-tool';
import type { ByteRange } from '../filesystem-driver';
import { volumeFromFd, type Volume } from '../volume';
import { crc32c } from './checksums';

/**
 * Test fixtures for the ext reader: real filesystems made by mke2fs on image
 * files, filled by mke2fs -d, debugfs or the kernel (a loop mount), and the
 * independent references the tests compare with (dumpe2fs, e2fsck, debugfs
 * rdump). Test-only; never imported by the engine.
 */

/**
 * Why the tests that fill a filesystem through the kernel (a loop mount)
 * cannot run here, or false when they can: node:test prints the reason.
 */
export const MOUNT_SKIP: string | false =
  process.getuid?.() !== 0 || !fs.existsSync('/dev/loop-control') || !resolveTool('losetup') || !resolveTool('mount')
    ? 'mounting a loop device needs root, /dev/loop-control, losetup and mount'
    : false;

/** mke2fs, e2fsck and debugfs on images of up to 512 MiB: seconds; 120 s is for a loaded shared machine. */
export const SLOW_TOOL_MS = 120_000;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes `count` files of assorted sizes (random content) under `dir`, some in subfolders. */
export function writeTree(dir: string, count: number, maxSize: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const sub = i % 3 === 0 ? '' : `d${i % 5}`;
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const name = path.join(sub, `f${i}.bin`);
    // Sizes spread from 0 to maxSize, so some files fit one block and others need many.
    const size = i === 0 ? 0 : Math.floor((maxSize * ((i * 7919) % 1000)) / 1000) + (i % 7);
    fs.writeFileSync(path.join(dir, name), crypto.randomBytes(size));
    names.push(name);
  }
  return names;
}

/** Creates a sparse image of `size` bytes and runs mkfs on it. */
export async function makeImage(file: string, size: number, mkfs: string, args: string[], fromDir?: string): Promise<void> {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  await runTool(mkfs, ['-q', '-F', ...(fromDir ? ['-d', fromDir] : []), ...args, file], SLOW_TOOL_MS);
}

/** Runs debugfs commands (one per line) against `file`, writable when `write`. */
export async function debugfs(file: string, commands: string[], write = false): Promise<string> {
  const dir = tempDir('imprint-debugfs-');
  try {
    const script = path.join(dir, 'cmds');
    fs.writeFileSync(script, commands.join('\n') + '\n');
    return (await runTool('debugfs', [...(write ? ['-w'] : []), '-f', script, file], SLOW_TOOL_MS)).stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Mounts `file` through a loop device, runs `fn` on the mount point, unmounts and detaches. */
export async function withMounted<T>(file: string, fn: (mnt: string) => Promise<T> | T): Promise<T> {
  const mnt = tempDir('imprint-mnt-');
  const dev = await attachLoop(file);
  try {
    await runTool('mount', [dev, mnt]);
    try {
      return await fn(mnt);
    } finally {
      await runTool('umount', [mnt], SLOW_TOOL_MS);
    }
  } finally {
    await detachLoop(dev);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
}

/** Opens `file` as a Volume; `close` when done. */
export function openVolume(file: string): { volume: Volume; close: () => void } {
  const fd = fs.openSync(file, 'r');
  return { volume: volumeFromFd(fd, 0, fs.fstatSync(fd).size), close: () => fs.closeSync(fd) };
}

/**
 * The used blocks according to dumpe2fs (libext2fs, a separate
 * implementation): every block of the filesystem except those its
 * "Free blocks:" lines list, plus the blocks before the first group.
 */
export async function dumpe2fsUsedBlocks(file: string): Promise<{ blockSize: number; used: Uint8Array }> {
  const out = (await runTool('dumpe2fs', [file], SLOW_TOOL_MS)).stdout;
  const num = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) throw new Error(`dumpe2fs output lacks ${re}`);
    return Number(m[1]);
  };
  const blockSize = num(/^Block size:\s+(\d+)/m);
  const blocks = num(/^Block count:\s+(\d+)/m);
  const used = new Uint8Array(blocks).fill(1);
  for (const m of out.matchAll(/^ {2}Free blocks: (.*)$/gm)) {
    for (const part of m[1]!.split(',')) {
      const t = part.trim();
      if (t === '') continue;
      const [a, b] = t.split('-').map(Number);
      for (let i = a!; i <= (b ?? a)!; i++) used[i] = 0;
    }
  }
  return { blockSize, used };
}

/** The map's ranges as one flag per block (ranges must be block-aligned). */
export function rangesToBlocks(ranges: ByteRange[], blockSize: number, blocks: number): Uint8Array {
  const used = new Uint8Array(blocks);
  for (const r of ranges) {
    if (r.start % blockSize || r.length % blockSize) throw new Error(`range ${r.start}+${r.length} is not block-aligned`);
    used.fill(1, r.start / blockSize, (r.start + r.length) / blockSize);
  }
  return used;
}

/**
 * A copy of `file` in which every byte outside `ranges` is junk: what a
 * restore over a drive full of old data would leave, at its worst.
 */
export function junkCopy(file: string, ranges: ByteRange[], dest: string): void {
  fs.copyFileSync(file, dest);
  const size = fs.statSync(dest).size;
  const junk = crypto.randomBytes(1 << 20);
  const fd = fs.openSync(dest, 'r+');
  try {
    let at = 0;
    const fill = (from: number, to: number) => {
      for (let p = from; p < to; p += junk.length) fs.writeSync(fd, junk, 0, Math.min(junk.length, to - p), p);
    };
    for (const r of ranges) {
      fill(at, r.start);
      at = r.start + r.length;
    }
    fill(at, size);
  } finally {
    fs.closeSync(fd);
  }
}

/** e2fsck -fy (replays the journal, fixes counts): exit 0 or 1 (corrected) is success. */
export function fsckFix(file: string): void {
  const r = spawnSync(resolveTool('e2fsck') ?? 'e2fsck', ['-fy', file], { encoding: 'utf8', timeout: SLOW_TOOL_MS });
  if (r.status !== 0 && r.status !== 1) throw new Error(`e2fsck -fy ${file}: exit ${r.status}: ${r.stdout}${r.stderr}`);
}

/** e2fsck -fn: resolves with its output when clean, rejects (non-zero exit) otherwise. */
export async function fsckClean(file: string): Promise<string> {
  return (await runTool('e2fsck', ['-fn', file], SLOW_TOOL_MS)).stdout;
}

/** SHA-256 of every regular file in the image, by path, as debugfs (libext2fs) reads them. */
export async function imageFileHashes(file: string): Promise<Map<string, string>> {
  const dir = tempDir('imprint-rdump-');
  try {
    await debugfs(file, [`rdump / ${dir}`]);
    return treeHashes(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** SHA-256 of every regular file under `dir`, by relative path. */
export function treeHashes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(p, crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, p))).digest('hex'));
    }
  };
  walk('');
  return out;
}

/** Rewrites the superblock of `img` with `edit`, keeping its metadata_csum checksum valid when `fixCsum`. */
export function editSuperblock(img: string, edit: (sb: Buffer) => void, fixCsum: boolean): void {
  const fd = fs.openSync(img, 'r+');
  try {
    const sb = Buffer.alloc(1024);
    fs.readSync(fd, sb, 0, 1024, 1024);
    edit(sb);
    if (fixCsum) sb.writeUInt32LE(crc32c(0xffffffff, sb.subarray(0, 0x3fc)), 0x3fc);
    fs.writeSync(fd, sb, 0, 1024, 1024);
  } finally {
    fs.closeSync(fd);
  }
}
