import * as crypto from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { withLoopMount } from '../../../testing/loop-mount';
import { must, run } from '../../fat/testing/volume-files';

/**
 * btrfs test images made by the real tools: mkfs.btrfs on a file, the
 * kernel's btrfs through a loop device to fill it (random and repetitive
 * files, a folder of small ones with inline data, a file deleted after a
 * commit so its space is free, a subvolume, a snapshot and a reflinked
 * copy), then unmounted cleanly. And the read side: every file's SHA-256
 * through a read-only mount.
 */

export interface BtrfsImage {
  file: string;
  /** './path' -> sha256, for every file. */
  files: Map<string, string>;
}

export interface BtrfsImageSpec {
  sizeMiB: number;
  /** Extra mkfs.btrfs arguments (-m single, --csum xxhash...). */
  mkfs?: string[];
  /** Mount options while filling (compress=zstd...). */
  mountOptions?: string[];
}

/** SHA-256 of every regular file under `root`, by './relative/path'. */
export function hashFiles(root: string, rel = '.', into = new Map<string, string>()): Map<string, string> {
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) hashFiles(root, r, into);
    else if (e.isFile()) into.set(r, crypto.createHash('sha256').update(fs.readFileSync(path.join(root, r))).digest('hex'));
  }
  return into;
}

export async function makeBtrfsImage(dir: string, name: string, spec: BtrfsImageSpec): Promise<BtrfsImage> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, spec.sizeMiB << 20);
  must('mkfs.btrfs', ['-q', '-f', ...(spec.mkfs ?? []), file]);
  const files = await withLoopMount(
    file,
    true,
    (mnt) => {
      fs.writeFileSync(path.join(mnt, 'random.bin'), crypto.randomBytes(24 << 20));
      fs.writeFileSync(path.join(mnt, 'text.log'), 'a line of a log that repeats\n'.repeat(200_000));
      fs.mkdirSync(path.join(mnt, 'small'));
      for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(mnt, 'small', `f${i}.txt`), `small file ${i}\n`.repeat(1 + (i % 40)));
      fs.writeFileSync(path.join(mnt, 'gone.bin'), crypto.randomBytes(12 << 20));
      must('sync', ['-f', path.join(mnt, 'gone.bin')]);
      fs.rmSync(path.join(mnt, 'gone.bin'));
      must('btrfs', ['subvolume', 'create', path.join(mnt, 'sub')]);
      fs.writeFileSync(path.join(mnt, 'sub', 'inside.bin'), crypto.randomBytes(3 << 20));
      must('cp', ['--reflink=always', path.join(mnt, 'random.bin'), path.join(mnt, 'sub', 'shared.bin')]);
      must('btrfs', ['subvolume', 'snapshot', path.join(mnt, 'sub'), path.join(mnt, 'snap')]);
      fs.appendFileSync(path.join(mnt, 'snap', 'inside.bin'), crypto.randomBytes(1 << 20));
      return hashFiles(mnt);
    },
    spec.mountOptions,
  );
  return { file, files };
}

/** The places on the device of each copy of logical address `logical` (btrfs-map-logical), first copy first. */
export function physicalCopies(image: string, logical: number): number[] {
  const r = run('btrfs-map-logical', ['-l', String(logical), image]);
  return [...`${r.stdout}${r.stderr}`.matchAll(/physical (\d+)/g)].map((m) => Number(m[1]));
}

/** The superblock's figures, from `btrfs inspect-internal dump-super`. */
export function superFigures(image: string): { bytesUsed: number; root: number; logRoot: number } {
  const out = must('btrfs', ['inspect-internal', 'dump-super', image]);
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  return { bytesUsed: num(/^bytes_used\s+(\d+)/m), root: num(/^root\s+(\d+)/m), logRoot: num(/^log_root\s+(\d+)/m) };
}

/**
 * Where each copy of logical byte `at` lies in `image`, mirror 1 first, by
 * btrfs-map-logical: one line per mirror and sector ("mirror 2 logical L
 * physical P"); for a compressed extent it lists every sector of the
 * extent, so only the lines of the sector holding `at` count.
 */
export function mirrorsOf(image: string, at: number): number[] {
  const r = run('btrfs-map-logical', ['-l', String(at), image]);
  const places = new Map<number, number>();
  for (const m of `${r.stdout}${r.stderr}`.matchAll(/mirror (\d+) logical (\d+) physical (\d+)/g)) {
    const [mirror, logical, physical] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (logical <= at && at < logical + 4096 && !places.has(mirror)) places.set(mirror, physical + (at - logical));
  }
  return [...places.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

/** Logical address (btrfs's own address space) of byte `at` of a file on a mounted btrfs, from FIEMAP: btrfs reports logical addresses there. */
export function logicalOf(file: string, at: number): number {
  const out = execFileSync('filefrag', ['-v', '-b4096', file], { encoding: 'utf8' });
  for (const m of out.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+(\d+)\.\.\s*\d+:/gm)) {
    const [first, last, physical] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const block = Math.floor(at / 4096);
    if (block >= first && block <= last) return (physical + block - first) * 4096 + (at % 4096);
  }
  throw new Error(`no extent of ${file} holds byte ${at}:\n${out}`);
}

/** Inverts the byte at `at` of `file` (damage, where the test wants it). */
export function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    if (fs.readSync(fd, b, 0, 1, at) !== 1) throw new Error(`${file} has no byte ${at}`);
    b[0] = b[0]! ^ 0xff;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}
