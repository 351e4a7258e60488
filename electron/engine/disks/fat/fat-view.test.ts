import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { fatDriver } from './fat-driver';
import { walkDisk, walkView, writeTestTree, type TreeEntry } from './testing/file-tree';
import { must, tempDir, withVolume } from './testing/volume-files';

/**
 * The FAT file view against mtools: a tree written by `mcopy -s -m` (nested
 * folders, a folder of many files, long, Unicode and case-bit names, empty
 * files and folders) must list and read exactly as mtools copies it back
 * out, entry by entry (kind, size, mtime, content). Then damage: a loop in
 * one file's FAT chain, a folder entry that points at a folder above it.
 */

const dir = tempDir('imprint-fat-view-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
// mtools converts FAT's local times with the process's zone: UTC matches the view's reading.
process.env.TZ = 'UTC';

const LABEL = 'TREE LABEL';

function without(m: Map<string, TreeEntry>, ...keys: string[]): Map<string, TreeEntry> {
  const out = new Map(m);
  for (const k of keys) out.delete(k);
  return out;
}

/** The clusters of `inner` in chain order, as mshowfat prints them ("<3-12> <20-21>"). */
function mshowfat(image: string, inner: string): number[] {
  const out = must('mshowfat', ['-i', image, `::${inner}`]);
  const clusters: number[] = [];
  for (const m of out.matchAll(/<(\d+)(?:-(\d+))?>/g)) {
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) clusters.push(c);
  }
  return clusters;
}

/** fsck.fat -v's geometry of `image`. */
function geometry(image: string) {
  const out = must('fsck.fat', ['-n', '-v', image]);
  const num = (re: RegExp) => Number(re.exec(out)?.[1]);
  return {
    fatStart: num(/First FAT starts at byte (\d+)/),
    fatBytes: num(/(\d+) bytes per FAT/),
    fats: num(/(\d+) FATs, \d+ bit entries/),
    bits: num(/\d+ FATs, (\d+) bit entries/),
    dataStart: num(/Data area starts at byte (\d+)/),
    clusterSize: num(/(\d+) bytes per cluster/),
  };
}

/** Sets FAT entry `cluster` to `value` in every FAT copy. */
function setFatEntry(image: string, cluster: number, value: number): void {
  const g = geometry(image);
  const fd = fs.openSync(image, 'r+');
  try {
    for (let copy = 0; copy < g.fats; copy++) {
      const base = g.fatStart + copy * g.fatBytes;
      if (g.bits === 12) {
        const at = base + ((cluster * 3) >> 1);
        const b = Buffer.alloc(2);
        fs.readSync(fd, b, 0, 2, at);
        const v = b.readUInt16LE(0);
        b.writeUInt16LE(cluster & 1 ? (v & 0x000f) | (value << 4) : (v & 0xf000) | value, 0);
        fs.writeSync(fd, b, 0, 2, at);
      } else {
        const b = Buffer.alloc(g.bits / 8);
        if (g.bits === 16) b.writeUInt16LE(value, 0);
        else b.writeUInt32LE(value, 0);
        fs.writeSync(fd, b, 0, b.length, base + cluster * (g.bits / 8));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

const SPECS = [
  { fatBits: 12, sizeMiB: 4, many: 150 },
  { fatBits: 16, sizeMiB: 64, many: 300 },
  { fatBits: 32, sizeMiB: 64, many: 2000 },
];

for (const spec of SPECS) {
  describe(`FAT${spec.fatBits} file view`, () => {
    const work = path.join(dir, `fat${spec.fatBits}`);
    const src = path.join(work, 'src');
    fs.mkdirSync(src, { recursive: true });
    writeTestTree(src, spec.many, false);
    const image = path.join(work, 'image.img');
    fs.writeFileSync(image, '');
    fs.truncateSync(image, spec.sizeMiB << 20);
    must('mkfs.vfat', ['-F', String(spec.fatBits), '-n', LABEL, image]);
    must('mcopy', ['-s', '-m', '-i', image, ...fs.readdirSync(src).map((n) => path.join(src, n)), '::/']);
    const out = path.join(work, 'out');
    fs.mkdirSync(out);
    must('mcopy', ['-s', '-m', '-n', '-i', image, '::/*', out]);
    const reference = walkDisk(out);
    fs.rmSync(out, { recursive: true });

    test('mtools gives back the tree as written (the reference is sound)', () => {
      assert.deepEqual(reference, walkDisk(src));
    });

    test('lists and reads every entry as mtools does; label and type', async () => {
      await withVolume(image, async (v) => {
        const view = await fatDriver.open!(v);
        assert.equal(view.filesystem, `fat${spec.fatBits}`);
        assert.equal(view.label, LABEL);
        const errors = new Map<string, string>();
        const listed = await walkView(view, errors);
        assert.deepEqual(errors, new Map());
        assert.deepEqual(listed, reference);
        assert.deepEqual(view.warnings, []);
        // Reads at an offset, across cluster ends, and past the end of the file.
        const big = (await view.list(view.root())).find((e) => e.name === 'big.bin');
        assert.ok(big);
        const whole = await view.read(big, 0, big.size);
        assert.deepEqual(await view.read(big, 4000, 10_000), whole.subarray(4000, 14_000));
        assert.deepEqual(await view.read(big, big.size - 5, 100), whole.subarray(big.size - 5));
        assert.equal((await view.read(big, big.size + 10, 100)).length, 0);
      });
    });

    test('a loop in one file\'s FAT chain fails that file; everything else still lists and reads', async () => {
      const broken = path.join(work, 'loop.img');
      fs.copyFileSync(image, broken);
      const clusters = mshowfat(broken, '/loop.bin');
      assert.ok(clusters.length >= 3, `loop.bin has ${clusters.length} clusters`);
      // The third cluster points back at the first: the loop lies inside the
      // clusters the file's size needs. (A chain that loops only after them
      // still reads the file's bytes right, as Linux does, and is not an error.)
      setFatEntry(broken, clusters[2] as number, clusters[0] as number);
      await withVolume(broken, async (v) => {
        const view = await fatDriver.open!(v);
        const errors = new Map<string, string>();
        const listed = await walkView(view, errors);
        assert.deepEqual([...errors.keys()], ['/loop.bin']);
        assert.match(errors.get('/loop.bin') as string, /loops back to cluster/);
        assert.deepEqual(listed, without(reference, '/loop.bin'));
      });
    });

    if (spec.fatBits !== 12) {
      test('a volume not cleanly unmounted (FAT[1] clean bit clear) lists with a warning', async () => {
        const dirty = path.join(work, 'dirty.img');
        fs.copyFileSync(image, dirty);
        setFatEntry(dirty, 1, spec.fatBits === 16 ? 0x7fff : 0x07ffffff);
        await withVolume(dirty, async (v) => {
          const view = await fatDriver.open!(v);
          assert.deepEqual(await walkView(view), reference);
          assert.ok(view.warnings.some((w) => /not cleanly unmounted/.test(w)), view.warnings.join('\n'));
        });
      });
    }

    test('a long name whose checksum does not match its short entry is ignored: the short name lists', async () => {
      const broken = path.join(work, 'lfn.img');
      fs.copyFileSync(image, broken);
      const data = fs.readFileSync(broken);
      // The long-name entry holding the name's first 5 characters (part 1); its checksum byte is at +13.
      const part1 = data.indexOf(Buffer.from('Ünïcö', 'utf16le')) - 1;
      assert.ok(part1 > 0 && part1 % 32 === 0 && ((data[part1 + 11] as number) & 0x3f) === 0x0f);
      data[part1 + 13] = (data[part1 + 13] as number) ^ 0xff;
      fs.writeFileSync(broken, data);
      const longName = '/Ünïcödé ñame – 文件.txt';
      await withVolume(broken, async (v) => {
        const view = await fatDriver.open!(v);
        const listed = await walkView(view);
        const added = [...listed.keys()].filter((k) => !reference.has(k));
        assert.equal(added.length, 1);
        assert.match(added[0] as string, /^\/ÜNÏCÖ.*~1\.TXT$/);
        assert.deepEqual(listed.get(added[0] as string), reference.get(longName));
        assert.deepEqual(without(listed, added[0] as string), without(reference, longName));
        assert.ok(view.warnings.some((w) => /long name/.test(w)), view.warnings.join('\n'));
      });
    });

    test('a folder entry pointing back at a folder above it is reported, not followed', async () => {
      const broken = path.join(work, 'self.img');
      fs.copyFileSync(image, broken);
      const g = geometry(broken);
      const [bCluster] = mshowfat(broken, '/a/b');
      const [aCluster] = mshowfat(broken, '/a');
      assert.ok(aCluster && bCluster);
      // In /a/b, turn side.bin's entry into a folder whose first cluster is /a's.
      const fd = fs.openSync(broken, 'r+');
      const folder = Buffer.alloc(g.clusterSize);
      const at = g.dataStart + (bCluster - 2) * g.clusterSize;
      fs.readSync(fd, folder, 0, folder.length, at);
      const e = folder.indexOf('SIDE    BIN', 0, 'latin1');
      assert.ok(e >= 0 && e % 32 === 0, 'side.bin has its short entry in /a/b');
      folder[e + 11] = 0x10;
      folder.writeUInt16LE(aCluster & 0xffff, e + 26);
      folder.writeUInt16LE(aCluster >>> 16, e + 20);
      fs.writeSync(fd, folder, 0, folder.length, at);
      fs.closeSync(fd);
      await withVolume(broken, async (v) => {
        const view = await fatDriver.open!(v);
        const listed = await walkView(view);
        assert.deepEqual(listed, without(reference, '/a/b/side.bin'));
        assert.ok(view.warnings.some((w) => /side\.bin.*points back/.test(w)), view.warnings.join('\n'));
      });
    });
  });
}

test('open() on a damaged boot sector says why', async () => {
  const image = path.join(dir, 'damaged.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 16 << 20);
  must('mkfs.vfat', ['-F', '16', image]);
  const fd = fs.openSync(image, 'r+');
  const total = Buffer.alloc(4);
  total.writeUInt32LE(64 << 11); // 64 MiB of sectors on a 16 MiB volume
  fs.writeSync(fd, Buffer.from([0, 0]), 0, 2, 19);
  fs.writeSync(fd, total, 0, 4, 32);
  fs.closeSync(fd);
  await withVolume(image, async (v) => {
    await assert.rejects(fatDriver.open!(v), /cannot read this FAT volume: .*larger than its volume/);
  });
});
