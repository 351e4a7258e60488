import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { FileEntry } from '../filesystem-driver';
import { exfatDriver } from './exfat-driver';
import { entrySetChecksum } from './exfat-entries';
import { withExfatMount } from './testing/exfat-images';
import { walkDisk, walkView, writeTestTree, type TreeEntry } from '../fat/testing/file-tree';
import { must, run, tempDir, withVolume } from '../fat/testing/volume-files';

/**
 * The exFAT file view against exfat-fuse: a tree copied in through a fuse
 * mount (nested folders, 2,000 files in one folder, long, Unicode and
 * astral-plane names, empty files and folders) must list and read exactly as
 * a read-only fuse mount shows it, entry by entry. Then a loop put into one
 * file's FAT chain fails that file only.
 */

const dir = tempDir('imprint-exfat-view-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const LABEL = 'Tree ✓ FAT';

function dumpNumber(image: string, re: RegExp): number {
  const out = run('dump.exfat', [image]).stdout;
  const m = re.exec(out);
  assert.ok(m, `dump.exfat lacks ${re}`);
  return Number(m[1]);
}

/** Reads the root folder's first cluster of `image`, lets `patch` change it, writes it back. */
function patchRoot(image: string, patch: (root: Buffer, rootCluster: number) => void): void {
  const sectorSize = 2 ** dumpNumber(image, /Sector Size Bits:\s+(\d+)/);
  const clusterSize = dumpNumber(image, /Cluster size:\s+(\d+)/);
  const heap = dumpNumber(image, /Cluster Heap Offset \(sector offset\):\s+(\d+)/) * sectorSize;
  const rootCluster = dumpNumber(image, /Root Cluster \(cluster offset\):\s+(\d+)/);
  const fd = fs.openSync(image, 'r+');
  try {
    const root = Buffer.alloc(clusterSize);
    fs.readSync(fd, root, 0, root.length, heap + (rootCluster - 2) * clusterSize);
    patch(root, rootCluster);
    fs.writeSync(fd, root, 0, root.length, heap + (rootCluster - 2) * clusterSize);
  } finally {
    fs.closeSync(fd);
  }
}

/** Where the entry set (file entry) of the root's `name` (one name entry) starts. */
function setOf(root: Buffer, name: string): number {
  const nameAt = root.indexOf(Buffer.from(name, 'utf16le'));
  assert.ok(nameAt > 0, name);
  const set = nameAt - 2 - 64; // name entry - stream entry - file entry
  assert.equal(root[set], 0x85);
  assert.equal(root[set + 32], 0xc0);
  return set;
}

describe('exFAT file view', async () => {
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  writeTestTree(src, 2000, true);
  const image = path.join(dir, 'image.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 64 << 20);
  must('mkfs.exfat', ['-L', LABEL, image]);
  await withExfatMount(image, false, (mnt) => {
    fs.cpSync(src, mnt, { recursive: true, preserveTimestamps: true });
    // Growing a file after others were written makes exfat-fuse give it a FAT chain
    // (the others are contiguous, NoFatChain): both kinds of stream get read.
    const extra = Buffer.alloc(50_000, 0x5a);
    for (const root of [src, mnt]) {
      const p = path.join(root, 'a/b/side.bin');
      fs.appendFileSync(p, extra);
      fs.utimesSync(p, 1_600_000_000, 1_600_000_000);
    }
  });
  const reference = await withExfatMount(image, true, (mnt) => walkDisk(mnt));

  test('exfat-fuse gives back the tree as written (the reference is sound)', () => {
    assert.deepEqual(reference, walkDisk(src));
  });

  test('lists and reads every entry as exfat-fuse does; label', async () => {
    await withVolume(image, async (v) => {
      const view = await exfatDriver.open!(v);
      assert.equal(view.filesystem, 'exfat');
      assert.equal(view.label, LABEL);
      const errors = new Map<string, string>();
      const listed = await walkView(view, errors);
      assert.deepEqual(errors, new Map());
      assert.deepEqual(listed, reference);
      assert.deepEqual(view.warnings, []);
      const big = (await view.list(view.root())).find((e) => e.name === 'big.bin');
      assert.ok(big);
      const whole = await view.read(big, 0, big.size);
      assert.deepEqual(await view.read(big, 5000, 9000), whole.subarray(5000, 14_000));
      assert.deepEqual(await view.read(big, big.size - 3, 50), whole.subarray(big.size - 3));
    });
  });

  test("extents(): each file's bytes, taken from the volume where its extents say (zeros elsewhere), are what read() gives, FAT-chained files too", async () => {
    await withVolume(image, async (v) => {
      const view = await exfatDriver.open!(v);
      let files = 0;
      let split = 0;
      const visit = async (dir: FileEntry): Promise<void> => {
        for (const e of await view.list(dir)) {
          if (e.kind === 'directory') await visit(e);
          if (e.kind !== 'file') continue;
          const extents = await view.extents!(e);
          assert.ok(extents, e.name);
          const fromExtents = Buffer.alloc(e.size);
          for (const x of extents) (await v.read(x.volumeOffset, x.length)).copy(fromExtents, x.offset);
          assert.ok(fromExtents.equals(await view.read(e, 0, e.size)), e.name);
          files++;
          if (extents.length > 1) split++;
        }
      };
      await visit(view.root());
      assert.ok(files > 2000, `${files} files`);
      assert.ok(split > 0, 'side.bin, grown after the others were written, lies in more than one run');
    });
  });

  test('a loop in one file\'s FAT chain fails that file; everything else still lists and reads', async () => {
    const broken = path.join(dir, 'loop.img');
    fs.copyFileSync(image, broken);
    let first = 0;
    patchRoot(broken, (root) => {
      const set = setOf(root, 'loop.bin');
      first = root.readUInt32LE(set + 32 + 20);
      // Make it a FAT-chained file (clear NoFatChain) whose third cluster leads back to its first.
      root[set + 33] = (root[set + 33] as number) & ~2;
      root.writeUInt16LE(entrySetChecksum(root, set, 1 + (root[set + 1] as number)), set + 2);
    });
    const fat = dumpNumber(broken, /FAT Offset\(sector offset\):\s+(\d+)/) * 2 ** dumpNumber(broken, /Sector Size Bits:\s+(\d+)/);
    const links = Buffer.alloc(12);
    links.writeUInt32LE(first + 1, 0);
    links.writeUInt32LE(first + 2, 4);
    links.writeUInt32LE(first, 8);
    const fd = fs.openSync(broken, 'r+');
    fs.writeSync(fd, links, 0, 12, fat + first * 4);
    fs.closeSync(fd);
    await withVolume(broken, async (v) => {
      const view = await exfatDriver.open!(v);
      const errors = new Map<string, string>();
      const listed = await walkView(view, errors);
      assert.deepEqual([...errors.keys()], ['/loop.bin']);
      assert.match(errors.get('/loop.bin') as string, /loops back to cluster/);
      const expected = new Map<string, TreeEntry>(reference);
      expected.delete('/loop.bin');
      assert.deepEqual(listed, expected);
    });
  });

  test('an entry set whose checksum fails is skipped and reported; the rest lists', async () => {
    const broken = path.join(dir, 'checksum.img');
    fs.copyFileSync(image, broken);
    patchRoot(broken, (root) => {
      const set = setOf(root, 'lower.txt');
      root[set + 2] = (root[set + 2] as number) ^ 0x55;
    });
    await withVolume(broken, async (v) => {
      const view = await exfatDriver.open!(v);
      const listed = await walkView(view);
      const expected = new Map<string, TreeEntry>(reference);
      expected.delete('/lower.txt');
      assert.deepEqual(listed, expected);
      assert.ok(view.warnings.some((w) => /checksum does not match/.test(w)), view.warnings.join('\n'));
    });
  });

  test('a folder entry pointing at the root is reported, not followed', async () => {
    const broken = path.join(dir, 'self.img');
    fs.copyFileSync(image, broken);
    patchRoot(broken, (root, rootCluster) => {
      const set = setOf(root, 'empty.txt');
      root.writeUInt16LE(root.readUInt16LE(set + 4) | 0x10, set + 4);
      root[set + 33] = 1; // AllocationPossible, FAT chain
      root.writeUInt32LE(rootCluster, set + 32 + 20);
      root.writeBigUInt64LE(4096n, set + 32 + 24);
      root.writeBigUInt64LE(4096n, set + 32 + 8);
      root.writeUInt16LE(entrySetChecksum(root, set, 1 + (root[set + 1] as number)), set + 2);
    });
    await withVolume(broken, async (v) => {
      const view = await exfatDriver.open!(v);
      const listed = await walkView(view);
      const expected = new Map<string, TreeEntry>(reference);
      expected.delete('/empty.txt');
      assert.deepEqual(listed, expected);
      assert.ok(view.warnings.some((w) => /empty\.txt.*points back/.test(w)), view.warnings.join('\n'));
    });
  });

  test('open() on a damaged boot sector says why', async () => {
    const broken = path.join(dir, 'boot.img');
    fs.copyFileSync(image, broken);
    const fd = fs.openSync(broken, 'r+');
    fs.writeSync(fd, Buffer.from([0x42]), 0, 1, 300);
    fs.closeSync(fd);
    await withVolume(broken, async (v) => {
      await assert.rejects(exfatDriver.open!(v), /cannot read this exFAT volume: .*checksum/);
    });
  });
});
