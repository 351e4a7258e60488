import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixtureDir, pseudoRandom } from '../../testing/image-fixtures';
import { killDaemon, runTool, startDaemon } from '../../testing/run-tool';
import type { AllocationMap, ByteRange } from '../filesystem-driver';
import { volumeFromFd } from '../volume';
import { ntfsDriver } from './ntfs-driver';

/**
 * Test NTFS volumes made by the real tools: mkntfs formats a sparse image
 * file, ntfs-3g (FUSE, on the file itself) fills it, deletes some files so
 * free clusters keep old data, and unmounts. Test code only.
 */

export const MiB = 1024 * 1024;

const isMounted = (dir: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `);

/** Mounts `image` with ntfs-3g at a fresh folder, runs `fn` (given what ntfs-3g printed), and unmounts, waiting for ntfs-3g to exit (its writes are then in the file). */
export async function withNtfsMount<T>(image: string, readOnly: boolean, fn: (dir: string, log: () => string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'mnt-'));
  // Windows-style stream names (file:stream) and compression of folders marked compressed, for populate().
  const opts = readOnly ? 'ro,no_detach' : 'no_detach,streams_interface=windows,compression';
  const d = startDaemon('ntfs-3g', ['-o', opts, image, dir]);
  try {
    // ntfs-3g mounts in well under a second; 10 s is margin for a loaded, shared machine.
    const deadline = Date.now() + 10_000;
    while (!isMounted(dir)) {
      if (d.child.exitCode !== null) throw new Error(`ntfs-3g ${image} failed: ${d.stderrTail()}`);
      if (Date.now() > deadline) throw new Error(`ntfs-3g did not mount ${image}: ${d.stderrTail()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return await fn(dir, () => d.stderrTail());
  } finally {
    // Only what is mounted: a failed mount must surface its own error, not umount's.
    if (isMounted(dir)) await runTool('umount', [dir]).catch(() => runTool('umount', ['-l', dir]));
    await Promise.race([d.exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
    await killDaemon(d);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface NtfsVolumeOptions {
  sizeMiB: number;
  clusterSize: number;
  label?: string;
  /** Fill it with files (otherwise only what mkntfs writes). */
  populate?: boolean;
  /** Files in the big folder (default 2,000). */
  manyFiles?: number;
}

/** Formats a sparse image with mkntfs (quick format, 512-byte sectors). */
export async function makeNtfs(file: string, o: NtfsVolumeOptions): Promise<void> {
  fs.rmSync(file, { force: true });
  fs.closeSync(fs.openSync(file, 'w'));
  fs.truncateSync(file, o.sizeMiB * MiB);
  await runTool('mkntfs', ['-F', '-Q', '-q', '-s', '512', '-c', String(o.clusterSize), '-L', o.label ?? 'TestVol', file], 60_000);
}

/** A spread of files: nested folders, a big folder, Unicode names, empty, sparse, small (resident) and fragmented files. */
export async function populate(dir: string, seed: string, manyFiles = 2000): Promise<void> {
  let n = 0;
  const data = (len: number) => pseudoRandom(len, `${seed}-${n++}`);
  fs.mkdirSync(path.join(dir, 'a', 'b', 'c'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a', 'b', 'c', 'deep.bin'), data(300_000));
  fs.writeFileSync(path.join(dir, 'a', 'top.txt'), 'a small file kept in its MFT record\n');
  fs.writeFileSync(path.join(dir, 'empty'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'Ünïcödé — 名前 ✓.txt'), data(5000));
  fs.writeFileSync(path.join(dir, 'a long file name that is well over the eight dot three limit.data'), data(70_000));
  // Sparse: a hole at the start and one in the middle.
  const fd = fs.openSync(path.join(dir, 'sparse.bin'), 'w');
  fs.writeSync(fd, data(65_536), 0, 65_536, 2 * MiB);
  fs.writeSync(fd, data(10_000), 0, 10_000, 5 * MiB);
  fs.closeSync(fd);
  // Many files in one folder: the index outgrows $INDEX_ROOT into a B+ tree of INDX blocks.
  const many = path.join(dir, 'many');
  fs.mkdirSync(many);
  for (let i = 0; i < manyFiles; i++) fs.writeFileSync(path.join(many, `file-${String(i).padStart(5, '0')}.txt`), `entry ${i}\n`.repeat(i % 7));
  // Fragmentation: a file written backwards, 4 KiB at a time, fills a hole
  // each time; its clusters run the opposite way to its offsets, so each is
  // a run of its own (with negative cluster deltas). 700 runs do not fit in
  // one MFT record: the runlist continues in extension records named by an
  // $ATTRIBUTE_LIST.
  const back = data(700 * 4096);
  const fb = fs.openSync(path.join(dir, 'backwards.bin'), 'w');
  for (let i = 699; i >= 0; i--) fs.writeSync(fb, back, i * 4096, 4096, i * 4096);
  fs.closeSync(fb);
  const frag = path.join(dir, 'frag');
  fs.mkdirSync(frag);
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(frag, `f${i}`), data(12_000));
  for (let i = 0; i < 200; i += 2) fs.rmSync(path.join(frag, `f${i}`));
  await windowsFeatures(dir, data);
  fs.writeFileSync(path.join(dir, 'deleted-later.bin'), data(4 * MiB));
  fs.rmSync(path.join(dir, 'deleted-later.bin'));
}

/**
 * Python sets the ntfs-3g extended attributes Node has no call for: a DOS
 * 8.3 alias, a Windows symlink reparse point, the compressed flag.
 */
const SET_XATTR = 'import os, sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]))';
export async function setXattr(file: string, name: string, value: Buffer): Promise<void> {
  await runTool('python3', ['-c', SET_XATTR, file, name, value.toString('hex')]);
}

/** A Windows symlink reparse point (IO_REPARSE_TAG_SYMLINK) to a relative target. */
export function symlinkReparse(target: string): Buffer {
  const name = Buffer.from(target.replace(/\//g, '\\'), 'utf16le');
  const data = Buffer.alloc(12 + name.length * 2);
  data.writeUInt16LE(0, 0); // substitute name offset
  data.writeUInt16LE(name.length, 2);
  data.writeUInt16LE(name.length, 4); // print name offset
  data.writeUInt16LE(name.length, 6);
  data.writeUInt32LE(1, 8); // relative
  name.copy(data, 12);
  name.copy(data, 12 + name.length);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0xa000000c, 0);
  head.writeUInt16LE(data.length, 4);
  return Buffer.concat([head, data]);
}

/** What Windows volumes have and plain Linux files do not: 8.3 aliases, streams, symlinks of both kinds, compressed files. */
async function windowsFeatures(dir: string, data: (len: number) => Buffer): Promise<void> {
  const long = path.join(dir, 'Program Files Long Name.txt');
  fs.writeFileSync(long, data(3000));
  await setXattr(long, 'system.ntfs_dos_name', Buffer.from('PROGRA~1.TXT', 'latin1'));
  fs.writeFileSync(`${path.join(dir, 'a', 'top.txt')}:secret`, 'an alternate data stream');
  fs.symlinkSync('a/b/c/deep.bin', path.join(dir, 'interix-link'));
  const win = path.join(dir, 'windows-link');
  fs.writeFileSync(win, '');
  await setXattr(win, 'system.ntfs_reparse_data', symlinkReparse('a/top.txt'));
  const comp = path.join(dir, 'compressed');
  fs.mkdirSync(comp);
  await setXattr(comp, 'system.ntfs_attrib', Buffer.from([0x10, 0x08, 0, 0])); // directory + compressed
  fs.writeFileSync(path.join(comp, 'text.txt'), 'compressible text, repeated. '.repeat(20_000));
  fs.writeFileSync(path.join(comp, 'random.bin'), data(100_000));
  const mixed = Buffer.concat([Buffer.alloc(70_000), data(50_000), Buffer.from('abc'.repeat(30_000))]);
  fs.writeFileSync(path.join(comp, 'mixed.bin'), mixed);
}

/** Builds a populated NTFS image and returns its path. */
export async function makePopulatedNtfs(name: string, o: NtfsVolumeOptions): Promise<string> {
  const file = path.join(fixtureDir(), name);
  await makeNtfs(file, o);
  if (o.populate !== false) await withNtfsMount(file, false, (dir) => populate(dir, name, o.manyFiles));
  return file;
}

export interface TreeEntry {
  path: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  sha256?: string;
  target?: string;
  /** Whole milliseconds (truncated). */
  mtimeMs: number;
}

/** Walks a mounted tree: every entry with its kind, size, mtime and (files) SHA-256. */
export function walkTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const p = path.join(rel, name);
      // BigInt times: mtimeMs as a double rounds x.9999 ms up to the next millisecond.
      const st = fs.lstatSync(path.join(root, p), { bigint: true });
      const kind = st.isDirectory() ? 'directory' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      const e: TreeEntry = { path: p, kind, size: st.isFile() ? Number(st.size) : 0, mtimeMs: Number(st.mtimeNs / 1_000_000n) };
      if (st.isSymbolicLink()) e.target = fs.readlinkSync(path.join(root, p));
      if (st.isFile()) e.sha256 = crypto.createHash('sha256').update(fs.readFileSync(path.join(root, p))).digest('hex');
      out.push(e);
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

/** The driver's allocation map of an image file (the volume is the first `size` bytes, default all). */
export async function mapOf(image: string, size?: number): Promise<AllocationMap> {
  const fd = fs.openSync(image, 'r');
  try {
    return await ntfsDriver.allocation!(volumeFromFd(fd, 0, size ?? fs.fstatSync(fd).size));
  } finally {
    fs.closeSync(fd);
  }
}

export function usedBlocks(m: AllocationMap): Extract<AllocationMap, { kind: 'used-blocks' }> {
  assert.equal(m.kind, 'used-blocks', m.kind === 'whole' ? m.reason : '');
  return m as Extract<AllocationMap, { kind: 'used-blocks' }>;
}

/** Byte offset of MFT record `n`, from the boot sector's raw fields (records 0-15 lie in the MFT's first run). */
export function recordOffset(image: string, n: number): { offset: number; size: number; mirror: number } {
  const boot = Buffer.alloc(512);
  const fd = fs.openSync(image, 'r');
  fs.readSync(fd, boot, 0, 512, 0);
  fs.closeSync(fd);
  const cluster = boot.readUInt16LE(11) * (boot[13] as number);
  const raw = boot.readInt8(0x40);
  const size = raw < 0 ? 2 ** -raw : raw * cluster;
  return { offset: Number(boot.readBigInt64LE(0x30)) * cluster + n * size, size, mirror: Number(boot.readBigInt64LE(0x38)) * cluster + n * size };
}

/** Rewrites bytes of an MFT record on disk, keeping its update sequence right (a byte at a sector's tail lives in the array). */
export function patchRecord(image: string, n: number, patch: (rec: Buffer, set: (at: number, v: number) => void) => void): void {
  const { offset, size, mirror } = recordOffset(image, n);
  const fd = fs.openSync(image, 'r+');
  try {
    const rec = Buffer.alloc(size);
    fs.readSync(fd, rec, 0, size, offset);
    const usa = rec.readUInt16LE(4);
    const set = (at: number, v: number) => {
      if (at % 512 >= 510) rec[usa + 2 + Math.floor(at / 512) * 2 + (at % 512) - 510] = v;
      else rec[at] = v;
    };
    patch(rec, set);
    fs.writeSync(fd, rec, 0, size, offset);
    // $MFTMirr keeps the first four records too; ntfs-3g's tools refuse a mismatch.
    if (n < 4) fs.writeSync(fd, rec, 0, size, mirror);
  } finally {
    fs.closeSync(fd);
  }
}

/** partclone's ddrescue domain log: the byte ranges it would copy ('+' lines). */
export async function partcloneRanges(image: string): Promise<ByteRange[]> {
  const log = path.join(fixtureDir(), `${path.basename(image)}.domain`);
  await runTool('partclone.ntfs', ['-q', '-D', '-s', image, '-o', log], 60_000);
  const out: ByteRange[] = [];
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    const m = /^0x([0-9A-Fa-f]+)\s+0x([0-9A-Fa-f]+)\s+\+/.exec(line);
    if (m) out.push({ start: parseInt(m[1] as string, 16), length: parseInt(m[2] as string, 16) });
  }
  return out;
}

/** A copy of `image` where every byte outside `ranges` is random. */
export function junkOutside(image: string, ranges: ByteRange[], name: string): string {
  const copy = path.join(fixtureDir(), name);
  fs.copyFileSync(image, copy);
  const fd = fs.openSync(copy, 'r+');
  try {
    let pos = 0;
    const size = fs.fstatSync(fd).size;
    for (const r of [...ranges, { start: size, length: 0 }]) {
      for (let at = pos; at < r.start; at += MiB) {
        const n = Math.min(MiB, r.start - at);
        fs.writeSync(fd, crypto.randomBytes(n), 0, n, at);
      }
      pos = r.start + r.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return copy;
}

/**
 * A volume whose MFT is in several runs: fill the volume, free every other
 * 256 KiB file, then create 3,000 empty files; the MFT grows into the holes.
 */
export async function makeFragmentedMftNtfs(name: string): Promise<string> {
  const file = path.join(fixtureDir(), name);
  await makeNtfs(file, { sizeMiB: 32, clusterSize: 4096 });
  await withNtfsMount(file, false, async (dir) => {
    const buf = pseudoRandom(256 * 1024, name);
    let n = 0;
    // Bounded by the volume's size: 32 MiB holds fewer than 128 such files.
    for (; n < 200; n++) {
      try {
        fs.writeFileSync(path.join(dir, `fill${n}`), buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
    for (let i = 0; i < n; i += 2) fs.rmSync(path.join(dir, `fill${i}`));
    fs.mkdirSync(path.join(dir, 'lots'));
    for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(dir, 'lots', `n${i}`), '');
  });
  return file;
}

/** The runs (LCN, length) of an MFT record's unnamed $DATA as ntfsinfo lists them (the first extent's runlist). */
export async function ntfsinfoRuns(image: string, record: number): Promise<Array<{ vcn: number; lcn: number; length: number }>> {
  const out = (await runTool('ntfsinfo', ['-f', '-v', '-i', String(record), image])).stdout;
  const data = out.slice(out.indexOf('Dumping attribute $DATA'));
  const runlist = data.slice(data.indexOf('Runlist:'), data.indexOf('Dumping attribute', 10) > 0 ? data.indexOf('Dumping attribute', 10) : undefined);
  return [...runlist.matchAll(/^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)$/gm)].map((m) => ({
    vcn: parseInt(m[1] as string, 16),
    lcn: parseInt(m[2] as string, 16),
    length: parseInt(m[3] as string, 16),
  }));
}
