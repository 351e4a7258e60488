import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../testing/run-cli';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { attachLoop, detachLoop } from '../../engine/testing/loop-device';
import { withLoopMount } from '../../engine/testing/loop-mount';
import { makeGptDisk } from './browse-fixtures';
import { hostTree, makeExt4, makeFat, MIB, sha256, writeTree, type HostEntry } from './browse-fixtures';

/**
 * Checks shared by the ls/extract tests: a GPT disk image holding FAT32
 * (filled by mtools), ext4 (mkfs.ext4 -d) and a partition of zeros, and the
 * comparison of `imprint ls` / `imprint extract` with the host trees the
 * filesystems were built from.
 */

export interface TestDisk {
  dir: string;
  disk: string;
  extTree: string;
  fatTree: string;
}

export async function buildTestDisk(dir: string): Promise<TestDisk> {
  const extTree = path.join(dir, 'ext-tree');
  const fatTree = path.join(dir, 'fat-tree');
  const disk = path.join(dir, 'disk.img');

  writeTree(extTree, { symlinks: true });
  writeTree(fatTree, { symlinks: false });
  await makeFat(path.join(dir, 'fat.img'), 40 * MIB, fatTree);
  await makeExt4(path.join(dir, 'ext.img'), 24 * MIB, extTree);
  await makeGptDisk(disk, [
    { image: path.join(dir, 'fat.img'), size: 40 * MIB, type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' },
    { image: path.join(dir, 'ext.img'), size: 24 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
    { image: null, size: 2 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
  ]);
  fs.rmSync(path.join(dir, 'fat.img'));
  fs.rmSync(path.join(dir, 'ext.img'));

  return { dir, disk, extTree, fatTree };
}

export type Row = { type: string; path?: string; kind?: string; size?: number; mode?: number | null; mtimeMs?: number | null; target?: string; number?: number; filesystem?: string | null; label?: string | null; problem?: string | null; usedBytes?: number | null };
export const rows = (stdout: string): Row[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);

/** Compares `imprint ls -R --long --json` of a partition with the host tree it was built from. */
export async function compareListing(source: string, part: number, tree: string, fat: boolean): Promise<void> {
  const r = await runCli(['ls', source, `${part}:/`, '-R', '--long', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const listed = new Map(rows(r.stdout).filter((x) => x.type === 'entry').map((x) => [x.path!, x]));
  listed.delete('/lost+found');
  const host = hostTree(tree);
  assert.deepEqual([...listed.keys()].sort(), [...host.keys()].sort(), `${source} partition ${part}: the same paths`);
  for (const [p, h] of host) {
    const e = listed.get(p)!;
    assert.equal(e.kind, h.kind, p);
    if (h.kind !== 'directory') assert.equal(e.size, h.size, p);
    if (h.kind === 'symlink') assert.equal(e.target, h.target, p);
    if (!fat) assert.equal(e.mode, h.mode, `${p}: mode`);
    // FAT keeps times to 2 s; and folders' times on FAT are when mcopy made them.
    if (!fat) assert.equal(Math.floor(e.mtimeMs! / 1000), h.mtimeS, `${p}: mtime`);
    else if (h.kind === 'file') assert.ok(Math.abs(e.mtimeMs! / 1000 - h.mtimeS) <= 2, `${p}: mtime ${e.mtimeMs} vs ${h.mtimeS}`);
  }
}

/** Extracts a whole partition and compares every file by SHA-256 and time, symlinks by target. */
export async function compareExtract(dir: string, source: string, part: number, tree: string, fat: boolean): Promise<void> {
  const dest = fs.mkdtempSync(path.join(dir, 'out-'));
  const r = await runCli(['extract', source, `${part}:/`, dest, '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const done = rows(r.stdout).find((x) => x.type === 'extracted') as unknown as { files: number; problems: number };
  const host = hostTree(tree);
  const got = hostTree(dest);
  got.delete('/lost+found');
  assert.deepEqual([...got.keys()].sort(), [...host.keys()].sort());
  assert.equal(done.files, [...host.values()].filter((h) => h.kind === 'file').length);
  for (const [p, h] of host) {
    const g = got.get(p) as HostEntry;
    assert.equal(g.kind, h.kind, p);
    if (h.kind === 'file') {
      assert.equal(sha256(path.join(dest, p)), sha256(path.join(tree, p)), `${p}: content`);
      assert.ok(Math.abs(g.mtimeS - h.mtimeS) <= (fat ? 2 : 0), `${p}: mtime ${g.mtimeS} vs ${h.mtimeS}`);
    }
    if (h.kind === 'symlink') assert.equal(g.target, h.target, p);
    if (!fat && h.kind !== 'symlink') assert.equal(g.mode, h.mode, `${p}: mode`);
  }
  fs.rmSync(dest, { recursive: true, force: true });
}

/** Partitions, both listings and both extractions (`full`), or the partitions and ext4 only. */
export async function checkSource(d: TestDisk, source: string, full = true): Promise<void> {
  const r = await runCli(['ls', source, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const parts = rows(r.stdout).filter((x) => x.type === 'partition');
  assert.deepEqual(parts.map((p) => [p.number, p.filesystem, p.label]), [[1, 'fat32', 'FATPART'], [2, 'ext4', 'EXTPART'], [3, null, null]]);
  assert.equal(parts[2]!.problem, 'not a filesystem Imprint can read');
  assert.ok(parts[1]!.usedBytes! > 3 * MIB, 'ext4 used space counts the 3 MiB file');
  if (full) await compareListing(source, 1, d.fatTree, true);
  await compareListing(source, 2, d.extTree, false);
  await compareExtract(d.dir, source, 2, d.extTree, false);
  if (full) await compareExtract(d.dir, source, 1, d.fatTree, true);
}


/** A smart backup of the disk image `disk` into `out`, read through a read-only loop device (backup reads drives, not files). */
export async function smartBackupOf(disk: string, out: string): Promise<void> {
  const dev = await attachLoop(disk, { readOnly: true });
  try {
    const b = await runCli(['backup', dev, out, '--yes', '--json']);
    assert.equal(b.code, 0, b.stderr);
  } finally {
    await detachLoop(dev);
  }
}

/**
 * A file of 5 GiB + 1 MiB with only its last MiB written (the rest a hole),
 * on a filesystem `make` formats in a partition image and the kernel fills:
 * `ls` gives its size, `extract` its data at the end and holes elsewhere
 * (offsets past 4 GiB are where 32-bit arithmetic would break).
 */
export async function checkBigSparseFile(name: string, make: (part: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imprint-${name}-big-`));
  try {
    const part = path.join(dir, 'part.img');
    await make(part);
    const tail = crypto.randomBytes(MIB);
    const size = 5 * 1024 * MIB + MIB;
    await withLoopMount(part, true, (mnt) => {
      const fd = fs.openSync(path.join(mnt, 'big-sparse.bin'), 'w');
      fs.writeSync(fd, tail, 0, tail.length, size - MIB);
      fs.closeSync(fd);
    });
    const disk = path.join(dir, 'disk.img');
    await makeGptDisk(disk, [{ image: part, size: fs.statSync(part).size, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' }]);
    fs.rmSync(part);
    const ls = await runCli(['ls', disk, '1:/', '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(rows(ls.stdout).find((r) => r.path === '/big-sparse.bin')?.size, size);
    const out = path.join(dir, 'out');
    const x = await runCli(['extract', disk, '1:/big-sparse.bin', out, '--json']);
    assert.equal(x.code, 0, x.stderr);
    const file = path.join(out, 'big-sparse.bin');
    const st = fs.statSync(file);
    assert.equal(st.size, size);
    assert.ok(st.blocks * 512 < 64 * MIB, `the hole stays a hole (${st.blocks * 512} bytes allocated)`);
    const got = Buffer.alloc(MIB);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, got, 0, MIB, size - MIB);
    const before = Buffer.alloc(4096, 1);
    fs.readSync(fd, before, 0, before.length, 4 * 1024 * MIB);
    fs.closeSync(fd);
    assert.ok(got.equals(tail), 'the last MiB is the data written');
    assert.ok(before.equals(Buffer.alloc(4096)), 'the hole reads as zeros');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A partition image of `mib` MiB formatted by `mkfs` (its argv, the image
 * path appended) and filled by the kernel with what the crafted-image tests
 * then edit by hand: top/abcd (to be renamed "../x"), top/sub/`loopName`
 * (to be pointed back at top) and kept.txt. Returns the image and the inode
 * numbers of top and sub.
 */
export async function craftableImage(dir: string, mib: number, mkfs: string[], loopName: string): Promise<{ part: string; top: number; sub: number }> {
  fs.mkdirSync(dir, { recursive: true });
  const part = path.join(dir, 'part.img');
  fs.writeFileSync(part, '');
  fs.truncateSync(part, mib * MIB);
  await runTool(mkfs[0]!, [...mkfs.slice(1), part], SLOW_TOOL_MS);
  const ino = await withLoopMount(part, true, (mnt) => {
    fs.mkdirSync(path.join(mnt, 'top', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(mnt, 'top', 'abcd'), 'renamed to ../x\n');
    fs.writeFileSync(path.join(mnt, 'top', 'sub', loopName), 'becomes a loop\n');
    fs.writeFileSync(path.join(mnt, 'kept.txt'), 'kept\n');
    return { top: fs.statSync(path.join(mnt, 'top')).ino, sub: fs.statSync(path.join(mnt, 'top', 'sub')).ino };
  });
  return { part, ...ino };
}

/** Extracts the edited image (craftableImage) as a GPT disk: "../x" and the loop at `loopPath` are reported and skipped, nothing lands beside DEST, the rest is extracted. */
export async function checkCraftedExtract(dir: string, part: string, loopPath: string): Promise<void> {
  const disk = path.join(dir, 'disk.img');
  await makeGptDisk(disk, [{ image: part, size: fs.statSync(part).size, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' }]);
  fs.rmSync(part);
  const dest = path.join(dir, 'dest', 'inside');
  const r = await runCli(['extract', disk, '1:/', dest, '--json']);
  assert.equal(r.code, 1, 'entries were skipped');
  const problems = rows(r.stdout).filter((x) => x.type === 'problem') as unknown as { path: string; message: string }[];
  assert.ok(problems.some((p) => p.path === '/top/../x' && /would make it a path/.test(p.message)), JSON.stringify(problems));
  assert.ok(problems.some((p) => p.path === loopPath && /contains itself/.test(p.message)), JSON.stringify(problems));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'dest')), ['inside'], 'nothing beside DEST');
  assert.equal(fs.readFileSync(path.join(dest, 'kept.txt'), 'utf8'), 'kept\n');
}
