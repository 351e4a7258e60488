import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { withLoopMount } from '../../engine/testing/loop-mount';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';
import { checkBigSparseFile, checkCraftedExtract, compareExtract, compareListing, craftableImage, rows, smartBackupOf } from './browse-checks';
import { MIB, makeGptDisk, writeTree } from './browse-fixtures';

/**
 * `imprint ls` / `imprint extract` of XFS (issue 16), compared entry by
 * entry with the host tree the kernel filled it from (`cp -a` into a
 * mount): short-form folders in their inodes, a folder of 3,000 files
 * (leaf and node directories), a sparse file of 300 separate extents (so its
 * extents are in a B-tree, not in the inode), a preallocated file whose
 * unwritten tail reads as zeros, a short symlink and one long enough to
 * live in a block of its own. Then through a smart backup, and with one
 * folder's inode damaged: that folder is left out with a warning, the rest
 * lists.
 */

const t = tempDir('browse-xfs');
const tree = path.join(t.dir, 'tree');
const PREALLOC_DATA = crypto.randomBytes(100);

before(() => {
  writeTree(tree, { symlinks: true });
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(tree, 'many', `crowd-${String(i).padStart(4, '0')}.txt`), `member ${i}\n`);
  // 4 KiB of data every 8 KiB: holes between, so each piece is an extent of its own.
  const fd = fs.openSync(path.join(tree, 'sparse-many.bin'), 'w');
  for (let i = 0; i < 300; i++) fs.writeSync(fd, crypto.randomBytes(4096), 0, 4096, i * 8192);
  fs.closeSync(fd);
  const prealloc = Buffer.alloc(MIB);
  PREALLOC_DATA.copy(prealloc);
  fs.writeFileSync(path.join(tree, 'prealloc.bin'), prealloc);
  fs.symlinkSync(`${'a-long-way/'.repeat(60)}target`, path.join(tree, 'long-link'));
  let s = 1_650_000_000;
  for (const p of ['sparse-many.bin', 'prealloc.bin', 'many']) fs.utimesSync(path.join(tree, p), (s += 3), s);
  fs.lutimesSync(path.join(tree, 'long-link'), (s += 3), s);
});

after(() => t.remove());

/** A GPT disk whose one partition is XFS filled with `tree`; returns it and the inode numbers of a few entries. */
async function xfsDisk(name: string, damage?: (part: string, inodes: Map<string, number>) => Promise<void>): Promise<string> {
  const part = path.join(t.dir, `${name}.part`);
  fs.writeFileSync(part, '');
  fs.truncateSync(part, 320 * MIB);
  await runTool('mkfs.xfs', ['-q', '-f', '-L', 'XFSPART', part], SLOW_TOOL_MS);
  const inodes = await withLoopMount(part, true, async (mnt) => {
    await runTool('cp', ['-a', ...fs.readdirSync(tree).map((n) => path.join(tree, n)), mnt], SLOW_TOOL_MS);
    // The tail of prealloc.bin as unwritten extents: fallocate, then the data written in place.
    const p = path.join(mnt, 'prealloc.bin');
    fs.rmSync(p);
    await runTool('fallocate', ['-l', String(MIB), p], SLOW_TOOL_MS);
    const fd = fs.openSync(p, 'r+');
    fs.writeSync(fd, PREALLOC_DATA, 0, PREALLOC_DATA.length, 0);
    fs.closeSync(fd);
    const st = fs.statSync(path.join(tree, 'prealloc.bin'));
    fs.chmodSync(p, st.mode & 0o7777);
    fs.utimesSync(p, st.atime, st.mtime);
    return new Map(['many', 'sparse-many.bin'].map((n) => [n, fs.statSync(path.join(mnt, n)).ino]));
  });
  const format = (await runTool('xfs_db', ['-r', '-c', `inode ${inodes.get('sparse-many.bin')}`, '-c', 'p core.format', part], SLOW_TOOL_MS)).stdout;
  assert.match(format, /btree/, 'the sparse file\'s extents are in a B-tree');
  await damage?.(part, inodes);
  const disk = path.join(t.dir, `${name}.img`);
  await makeGptDisk(disk, [{ image: part, size: 320 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' }]);
  fs.rmSync(part);
  return disk;
}

test('xfs: ls -R --long and extract match the tree it was filled from, from the image and from a smart backup', async () => {
  const disk = await xfsDisk('plain');
  const ls = await runCli(['ls', disk, '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  const [p] = rows(ls.stdout).filter((x) => x.type === 'partition');
  assert.deepEqual([p?.filesystem, p?.label, p?.problem], ['xfs', 'XFSPART', null]);
  await compareListing(disk, 1, tree, false);
  await compareExtract(t.dir, disk, 1, tree, false);
  const backup = path.join(t.dir, 'xfs.img.zst');
  await smartBackupOf(disk, backup);
  await compareListing(backup, 1, tree, false);
  await compareExtract(t.dir, backup, 1, tree, false);
  fs.rmSync(disk);
});

test('xfs: a folder whose inode is damaged is left out with a warning; the rest lists', async () => {
  const disk = await xfsDisk('damaged', async (part, inodes) => {
    // xfs_db in expert mode, writing a field without updating the inode's CRC (-c): as a bad sector or a stray write would.
    await runTool('xfs_db', ['-x', '-c', `inode ${inodes.get('many')}`, '-c', 'write -c core.gen 12345', part], SLOW_TOOL_MS);
  });
  const r = await runCli(['ls', disk, '1:/', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const listed = rows(r.stdout).filter((x) => x.type === 'entry').map((x) => x.path);
  assert.ok(!listed.includes('/many') && listed.includes('/docs') && listed.includes('/sparse-many.bin'), listed.join(' '));
  const warnings = (rows(r.stdout).filter((x) => x.type === 'warning') as unknown as { message: string }[]).map((w) => w.message);
  assert.ok(warnings.some((w) => /"many" in folder inode \d+ left out: inode \d+ fails its checksum/.test(w)), warnings.join('\n'));
  fs.rmSync(disk);
});

test('xfs: a sparse file past 4 GiB lists its size and extracts with its data at the end, still sparse', async () => {
  await checkBigSparseFile('xfs', async (part) => {
    fs.writeFileSync(part, '');
    fs.truncateSync(part, 320 * MIB);
    await runTool('mkfs.xfs', ['-q', '-f', part], SLOW_TOOL_MS);
  });
});

test('xfs, hand-edited with xfs_db (CRCs recomputed): a name "../x" and a folder that contains itself are reported and skipped, nothing lands outside DEST', async () => {
  const dir = path.join(t.dir, 'crafted');
  const { part, ...ino } = await craftableImage(dir, 320, ['mkfs.xfs', '-q', '-f'], 'file');
  // top's second entry ("abcd", sorted after "sub") renamed; sub's entry "file" pointed back at top, as a folder.
  await runTool('xfs_db', ['-x', '-c', `inode ${ino.top}`, '-c', 'write u3.sfdir3.list[1].name "../x"', part], SLOW_TOOL_MS);
  await runTool('xfs_db', ['-x', '-c', `inode ${ino.sub}`, '-c', `write u3.sfdir3.list[0].inumber.i4 ${ino.top}`, '-c', 'write u3.sfdir3.list[0].filetype 2', part], SLOW_TOOL_MS);
  await checkCraftedExtract(dir, part, '/top/sub/file');
});
