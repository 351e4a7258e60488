import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import { crc32c } from '@node-rs/crc32';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { physicalCopies } from '../../engine/disks/btrfs/testing/btrfs-images';
import { withLoopMount } from '../../engine/testing/loop-mount';
import { runCli } from '../testing/run-cli';
import { checkBigSparseFile, checkCraftedExtract, compareExtract, compareListing, craftableImage, rows, smartBackupOf } from './browse-checks';
import { MIB, makeGptDisk, writeTree } from './browse-fixtures';

/**
 * `imprint ls` / `imprint extract` of btrfs (issue 16), compared entry by
 * entry with the host tree the filesystem was filled from by the kernel
 * (`cp -a` into a mount): nested folders, Unicode and long names, an empty
 * file and folder, a symlink, a folder of 1,500 files (its index spans several
 * leaves and a node above them), and a subvolume, which lists as a folder.
 * Compressed with zstd, zlib and LZO (compress-force, so the
 * small files are compressed inline and the large ones in extents); then
 * the same through a smart backup, read through its seek table. A folder
 * whose index leaf is damaged is an error for that folder only.
 */

const t = tempDir('browse-btrfs');
const tree = path.join(t.dir, 'tree');

before(() => {
  writeTree(tree, { symlinks: true });
  for (let i = 0; i < 1500; i++) fs.writeFileSync(path.join(tree, 'many', `crowd-${String(i).padStart(4, '0')}.txt`), `member ${i}\n`.repeat(1 + (i % 7)));
  fs.mkdirSync(path.join(tree, 'vol', 'inner'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'vol', 'inner', 'in-subvolume.txt'), 'this file lives in a subvolume\n'.repeat(300));
  // Times as writeTree gives them, for what was added after it.
  let s = 1_650_000_000;
  for (const p of ['vol/inner/in-subvolume.txt', 'vol/inner', 'vol', 'many']) fs.utimesSync(path.join(tree, p), (s += 3), s);
});

after(() => t.remove());

/** A GPT disk whose one partition is btrfs filled with `tree` through a mount with `options`; 'vol' is a subvolume. */
async function btrfsDisk(name: string, options: string[], damage?: (part: string, manyIno: number) => void): Promise<string> {
  const part = path.join(t.dir, `${name}.part`);
  fs.writeFileSync(part, '');
  fs.truncateSync(part, 160 * MIB);
  await runTool('mkfs.btrfs', ['-q', '-f', '-L', 'BTRPART', part], SLOW_TOOL_MS);
  let manyIno = 0;
  await withLoopMount(
    part,
    true,
    async (mnt) => {
      await runTool('btrfs', ['subvolume', 'create', path.join(mnt, 'vol')], SLOW_TOOL_MS);
      const top = fs.readdirSync(tree).filter((n) => n !== 'vol').map((n) => path.join(tree, n));
      await runTool('cp', ['-a', ...top, mnt], SLOW_TOOL_MS);
      await runTool('cp', ['-a', `${path.join(tree, 'vol')}/.`, path.join(mnt, 'vol')], SLOW_TOOL_MS);
      // The top folder's own time is not part of the comparison; the subvolume's is.
      const st = fs.statSync(path.join(tree, 'vol'));
      fs.utimesSync(path.join(mnt, 'vol'), st.atime, st.mtime);
      manyIno = fs.statSync(path.join(mnt, 'many')).ino;
    },
    options,
  );
  damage?.(part, manyIno);
  const disk = path.join(t.dir, `${name}.img`);
  await makeGptDisk(disk, [{ image: part, size: 160 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' }]);
  fs.rmSync(part);
  return disk;
}

// Uncompressed extents are in every variant: compress-force keeps incompressible data (the random files) as it is.
for (const [name, options] of [
  ['zstd', ['compress-force=zstd']],
  ['zlib', ['compress-force=zlib']],
  ['lzo', ['compress-force=lzo']],
] as const) {
  test(`btrfs (${name}): ls -R --long and extract match the tree it was filled from`, async () => {
    const disk = await btrfsDisk(name, [...options]);
    const ls = await runCli(['ls', disk, '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    const [p] = rows(ls.stdout).filter((x) => x.type === 'partition');
    assert.deepEqual([p?.filesystem, p?.label, p?.problem], ['btrfs', 'BTRPART', null]);
    await compareListing(disk, 1, tree, false);
    await compareExtract(t.dir, disk, 1, tree, false);
    if (name === 'zstd') {
      // Through a smart backup, read through its seek table.
      const backup = path.join(t.dir, 'btrfs.img.zst');
      await smartBackupOf(disk, backup);
      await compareListing(backup, 1, tree, false);
      await compareExtract(t.dir, backup, 1, tree, false);
    }
    fs.rmSync(disk);
  });
}

test('btrfs: a folder whose index leaf is damaged (both copies) is an error for that folder; the rest lists and extracts', async () => {
  const disk = await btrfsDisk('damaged', [], (part, ino) => {
    // A node's pointer to a leaf that starts inside the folder's entries (its 3,000 files fill several leaves).
    const dump = execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', '5', part], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const m = new RegExp(`key \\(${ino} DIR_INDEX \\d+\\) block (\\d+)`).exec(dump);
    assert.ok(m, 'a leaf of the folder\'s entries is found');
    const fd = fs.openSync(part, 'r+');
    for (const at of physicalCopies(part, Number(m[1]))) fs.writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, at + 200);
    fs.closeSync(fd);
  });
  const bad = await runCli(['ls', disk, '1:/many']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /fails its checksum/);
  const good = await runCli(['ls', disk, '1:/docs', '--json']);
  assert.equal(good.code, 0, good.stderr);
  assert.deepEqual(rows(good.stdout).filter((x) => x.type === 'entry').map((x) => x.path).sort(), ['/docs/deep', '/docs/notes.txt']);
  const dest = path.join(t.dir, 'damaged-out');
  const x = await runCli(['extract', disk, '1:/', dest, '--json']);
  assert.equal(x.code, 1, x.stderr);
  const problems = rows(x.stdout).filter((r) => r.type === 'problem') as unknown as { path: string; message: string }[];
  assert.ok(problems.some((p) => p.path === '/many' && /fails its checksum/.test(p.message)), JSON.stringify(problems));
  assert.ok(fs.existsSync(path.join(dest, 'docs', 'deep', 'er', 'still', 'file.bin')), 'the rest is extracted');
  assert.ok(fs.existsSync(path.join(dest, 'vol', 'inner', 'in-subvolume.txt')));
  fs.rmSync(disk);
});

test('btrfs: a sparse file past 4 GiB lists its size and extracts with its data at the end, still sparse', async () => {
  await checkBigSparseFile('btrfs', async (part) => {
    fs.writeFileSync(part, '');
    fs.truncateSync(part, 160 * MIB);
    await runTool('mkfs.btrfs', ['-q', '-f', part], SLOW_TOOL_MS);
  });
});

test('btrfs, hand-edited (checksums recomputed): a name "../x" and a folder that contains itself are reported and skipped, nothing lands outside DEST', async () => {
  const dir = path.join(t.dir, 'crafted');
  const { part, top } = await craftableImage(dir, 160, ['mkfs.btrfs', '-q', '-f'], 'loopy');
  // Every leaf copy holding these names: "abcd" becomes "../x"; the entry "loopy" (a file) points back at top, as a folder.
  const dump = execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', '5', part], { encoding: 'utf8' });
  const leaves = new Set([...dump.matchAll(/^leaf (\d+) /gm)].map((m) => Number(m[1])));
  const nodeSize = Number(/nodesize\s+(\d+)/.exec(execFileSync('btrfs', ['inspect-internal', 'dump-super', part], { encoding: 'utf8' }))?.[1]);
  const fd = fs.openSync(part, 'r+');
  let edits = 0;
  for (const leaf of leaves) {
    for (const at of physicalCopies(part, leaf)) {
      const block = Buffer.alloc(nodeSize);
      fs.readSync(fd, block, 0, nodeSize, at);
      let changed = false;
      for (let i = block.indexOf('abcd'); i >= 0; i = block.indexOf('abcd', i + 1)) {
        block.write('../x', i, 'latin1');
        changed = true;
      }
      // A dir item: location key (objectid, type, offset), transid, data_len, name_len, type, then the name.
      for (let i = block.indexOf('loopy'); i >= 30; i = block.indexOf('loopy', i + 1)) {
        if (block.readUInt16LE(i - 3) !== 5 || block.readUInt8(i - 30 + 8) !== 1) continue;
        block.writeBigUInt64LE(BigInt(top), i - 30);
        block.writeUInt8(2, i - 1);
        changed = true;
      }
      if (!changed) continue;
      block.writeUInt32LE(crc32c(block.subarray(32)) >>> 0, 0);
      fs.writeSync(fd, block, 0, nodeSize, at);
      edits++;
    }
  }
  fs.closeSync(fd);
  assert.ok(edits > 0, 'the leaves were edited');
  await checkCraftedExtract(dir, part, '/top/sub/loopy');
});
