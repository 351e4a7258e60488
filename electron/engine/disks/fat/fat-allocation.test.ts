import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { fatDriver } from './fat-driver';
import { makeFatImage, mtoolsHashes, type FatImageSpec } from './testing/fat-images';
import { checkMapShape, mappedBytesIn, must, run, scrambleOutside, tempDir, withVolume } from './testing/volume-files';

/**
 * FAT allocation maps on filesystems made by mkfs.vfat and filled by mtools,
 * checked against fsck.fat's own count of clusters in use, then end to end:
 * every byte outside the map is overwritten with junk, and fsck.fat must
 * still find the filesystem clean and mtools read every file unchanged.
 */

const dir = tempDir('imprint-fat-alloc-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const SPECS: FatImageSpec[] = [
  { fatBits: 12, sizeMiB: 4, waveBytes: 1 << 20 },
  { fatBits: 16, sizeMiB: 64, waveBytes: 12 << 20 },
  { fatBits: 32, sizeMiB: 300, waveBytes: 12 << 20 },
  { fatBits: 16, sizeMiB: 64, waveBytes: 8 << 20, sectorSize: 4096 },
];

/** fsck.fat -v's geometry and its "N/M clusters" in-use count. */
function fsckFigures(image: string): { dataStart: number; clusterSize: number; usedClusters: number; totalClusters: number } {
  const r = run('fsck.fat', ['-n', '-v', image]);
  assert.equal(r.status, 0, `fsck.fat -n found problems in the original image:\n${r.stdout}${r.stderr}`);
  const num = (re: RegExp) => {
    const m = re.exec(r.stdout);
    assert.ok(m, `fsck.fat output lacks ${re}:\n${r.stdout}`);
    return Number(m[1]);
  };
  const m = /(\d+)\/(\d+) clusters/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return { dataStart: num(/Data area starts at byte (\d+)/), clusterSize: num(/(\d+) bytes per cluster/), usedClusters: Number(m[1]), totalClusters: Number(m[2]) };
}

for (const spec of SPECS) {
  describe(`FAT${spec.fatBits} on ${spec.sizeMiB} MiB, ${spec.sectorSize ?? 512}-byte sectors`, () => {
    const work = path.join(dir, `fat${spec.fatBits}-${spec.sectorSize ?? 512}`);
    fs.mkdirSync(work);
    const image = makeFatImage(work, spec);
    const size = fs.statSync(image.file).size;

    test('detect() recognises it from its head', () => {
      const head = Buffer.alloc(72 * 1024);
      const fd = fs.openSync(image.file, 'r');
      fs.readSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      assert.equal(fatDriver.detect(head), true);
    });

    test('the map holds the metadata and exactly the clusters fsck.fat counts as used', async () => {
      const map = await withVolume(image.file, (v) => fatDriver.allocation!(v));
      assert.equal(checkMapShape(map, size), null);
      assert.equal(map.kind, 'used-blocks');
      if (map.kind !== 'used-blocks') return;
      assert.equal(map.filesystem, `fat${spec.fatBits}`);
      const f = fsckFigures(image.file);
      // Everything before the data area is kept whole.
      assert.equal(mappedBytesIn(map, 0, f.dataStart), f.dataStart);
      const dataEnd = f.dataStart + f.totalClusters * f.clusterSize;
      const mapped = mappedBytesIn(map, f.dataStart, dataEnd);
      assert.equal(mapped % f.clusterSize, 0);
      assert.equal(mapped / f.clusterSize, f.usedClusters);
      // The deleted wave really left free space behind, so the check above could fail.
      assert.ok(f.usedClusters < f.totalClusters * 0.9, `${f.usedClusters}/${f.totalClusters}`);
    });

    test('junk outside the map: fsck.fat is clean and every file reads the same', async () => {
      const map = await withVolume(image.file, (v) => fatDriver.allocation!(v));
      const junked = path.join(work, 'junked.img');
      const overwritten = scrambleOutside(image.file, junked, map);
      assert.ok(overwritten > size / 10, `only ${overwritten} bytes were outside the map`);
      const r = run('fsck.fat', ['-n', junked]);
      assert.equal(r.status, 0, `fsck.fat -n on the junked copy:\n${r.stdout}${r.stderr}`);
      assert.ok(image.files.size > 10);
      assert.deepEqual(mtoolsHashes(junked, work), image.files);
      fs.rmSync(junked);
    });
  });
}

describe('FAT boot sectors that do not check out: copied whole, with the reason', () => {
  const work = path.join(dir, 'broken');
  fs.mkdirSync(work);
  const image = path.join(work, 'fat16.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 16 << 20);
  must('mkfs.vfat', ['-F', '16', image]);
  const original = fs.readFileSync(image).subarray(0, 512);

  async function mapWith(patch: (s: Buffer) => void, volumeSize?: number) {
    const s = Buffer.from(original);
    patch(s);
    const fd = fs.openSync(image, 'r+');
    fs.writeSync(fd, s, 0, 512, 0);
    fs.closeSync(fd);
    try {
      return await withVolume(image, (v) => fatDriver.allocation!(v), volumeSize);
    } finally {
      const fd2 = fs.openSync(image, 'r+');
      fs.writeSync(fd2, original, 0, 512, 0);
      fs.closeSync(fd2);
    }
  }

  const cases: [string, (s: Buffer) => void, RegExp][] = [
    ['zero sectors per cluster', (s) => (s[13] = 0), /signature/],
    ['bytes per sector not a power of two', (s) => s.writeUInt16LE(600, 11), /signature/],
    ['no FAT copies', (s) => (s[16] = 0), /signature/],
    ['a FAT too small for its clusters', (s) => s.writeUInt16LE(2, 22), /too few/],
    ['a data area past the end', (s) => s.writeUInt16LE(40000, 14), /past the/],
    ['FAT32 fields on a FAT16 cluster count', (s) => { s.writeUInt16LE(0, 22); s.writeUInt16LE(0, 17); s.writeUInt32LE(64, 36); }, /laid out for FAT32/],
  ];
  for (const [name, patch, reason] of cases) {
    test(name, async () => {
      const map = await mapWith(patch);
      assert.equal(map.kind, 'whole');
      if (map.kind === 'whole') assert.match(map.reason, reason);
    });
  }

  test('a filesystem larger than its volume (a partition cut short)', async () => {
    const map = await mapWith(() => {}, 15 << 20);
    assert.equal(map.kind, 'whole');
    if (map.kind === 'whole') assert.match(map.reason, /larger than its volume/);
  });

  /** Sets FAT16 entry `cluster` to `value` in FAT copy `copy` of `file`. */
  function setEntry(file: string, copy: number, cluster: number, value: number): void {
    const s = fs.readFileSync(file).subarray(0, 512);
    const fatStart = s.readUInt16LE(14) * 512 + copy * s.readUInt16LE(22) * 512;
    const fd = fs.openSync(file, 'r+');
    const b = Buffer.alloc(2);
    b.writeUInt16LE(value);
    fs.writeSync(fd, b, 0, 2, fatStart + cluster * 2);
    fs.closeSync(fd);
  }

  test('a cluster marked bad is left out; one only the second FAT marks in use is kept', async () => {
    const marked = path.join(work, 'marked.img');
    fs.copyFileSync(image, marked);
    const bpb = original;
    const dataStart = (bpb.readUInt16LE(14) + 2 * bpb.readUInt16LE(22)) * 512 + bpb.readUInt16LE(17) * 32;
    const clusterSize = (bpb[13] as number) * 512;
    const at = (c: number) => dataStart + (c - 2) * clusterSize;
    const before = await withVolume(marked, (v) => fatDriver.allocation!(v));
    // Clusters 100 and 101 are free on the fresh volume.
    assert.equal(mappedBytesIn(before, at(100), at(102)), 0);
    for (const copy of [0, 1]) setEntry(marked, copy, 100, 0xfff7);
    setEntry(marked, 1, 101, 0xffff);
    const after = await withVolume(marked, (v) => fatDriver.allocation!(v));
    assert.equal(mappedBytesIn(after, at(100), at(101)), 0);
    assert.equal(mappedBytesIn(after, at(101), at(102)), clusterSize);
    assert.equal(after.kind === 'used-blocks' && before.kind === 'used-blocks' && after.usedBytes - before.usedBytes, clusterSize);
  });

  test('the unchanged image maps, and the part of a larger partition past the filesystem is kept', async () => {
    const grown = path.join(work, 'grown.img');
    fs.copyFileSync(image, grown);
    fs.truncateSync(grown, (16 << 20) + 70_000);
    const map = await withVolume(grown, (v) => fatDriver.allocation!(v));
    assert.equal(map.kind, 'used-blocks');
    assert.equal(mappedBytesIn(map, 16 << 20, (16 << 20) + 70_000), 70_000);
  });
});
