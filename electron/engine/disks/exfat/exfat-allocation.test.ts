import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { exfatDriver } from './exfat-driver';
import { exfatHashes, makeExfatImage } from './testing/exfat-images';
import { checkMapShape, mappedBytesIn, run, scrambleOutside, tempDir, withVolume } from '../fat/testing/volume-files';

/**
 * exFAT allocation maps on a volume made by mkfs.exfat and filled through
 * exfat-fuse, checked against dump.exfat's free-cluster count, then end to
 * end: junk everywhere outside the map, and fsck.exfat must still find the
 * volume clean and a read-only mount read every file unchanged.
 */

const dir = tempDir('imprint-exfat-alloc-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** dump.exfat's figures: cluster heap offset, cluster size, total and free clusters. */
function dumpFigures(image: string) {
  const out = run('dump.exfat', [image]).stdout;
  const num = (re: RegExp) => {
    const m = re.exec(out);
    assert.ok(m, `dump.exfat output lacks ${re}:\n${out}`);
    return Number(m[1]);
  };
  const sectorBits = num(/Sector Size Bits:\s+(\d+)/);
  return {
    sectorSize: 2 ** sectorBits,
    heapStart: num(/Cluster Heap Offset \(sector offset\):\s+(\d+)/) * 2 ** sectorBits,
    clusterSize: num(/Cluster size:\s+(\d+)/),
    total: num(/Total Clusters:\s+(\d+)/),
    free: num(/Free Clusters:\s+(\d+)/),
  };
}

for (const sectorSize of [512, 4096]) describe(`exFAT on 128 MiB, ${sectorSize}-byte sectors, filled through exfat-fuse`, async () => {
  const image = await makeExfatImage(dir, { sizeMiB: 128, waveBytes: 16 << 20, sectorSize: sectorSize === 512 ? undefined : sectorSize });
  const size = fs.statSync(image.file).size;

  test('detect() recognises it, and not a FAT boot sector', () => {
    const head = Buffer.alloc(72 * 1024);
    const fd = fs.openSync(image.file, 'r');
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    assert.equal(exfatDriver.detect(head), true);
    const fat = Buffer.alloc(512);
    fat.set([0xeb, 0x3c, 0x90], 0);
    fat.write('mkfs.fat', 3, 'latin1');
    fat.writeUInt16LE(512, 11);
    fat[510] = 0x55;
    fat[511] = 0xaa;
    assert.equal(exfatDriver.detect(fat), false);
  });

  test('the map holds exactly the clusters dump.exfat counts as used', async () => {
    const r = run('fsck.exfat', ['-n', image.file]);
    assert.equal(r.status, 0, `fsck.exfat -n on the original:\n${r.stdout}${r.stderr}`);
    const map = await withVolume(image.file, (v) => exfatDriver.allocation!(v));
    assert.equal(checkMapShape(map, size), null);
    const d = dumpFigures(image.file);
    assert.equal(d.sectorSize, sectorSize);
    const mapped = mappedBytesIn(map, d.heapStart, d.heapStart + d.total * d.clusterSize);
    assert.equal(mapped % d.clusterSize, 0);
    assert.equal(mapped / d.clusterSize, d.total - d.free);
    assert.ok(d.free > d.total / 2, `the deleted files left free clusters (${d.free}/${d.total})`);
  });

  test('junk outside the map: fsck.exfat is clean and every file reads the same', async () => {
    const map = await withVolume(image.file, (v) => exfatDriver.allocation!(v));
    const junked = path.join(dir, `junked-${sectorSize}.img`);
    const overwritten = scrambleOutside(image.file, junked, map);
    assert.ok(overwritten > size / 2, `only ${overwritten} bytes were outside the map`);
    const r = run('fsck.exfat', ['-n', junked]);
    assert.equal(r.status, 0, `fsck.exfat -n on the junked copy:\n${r.stdout}${r.stderr}`);
    assert.ok(image.files.size > 20);
    assert.deepEqual(await exfatHashes(junked), image.files);
    fs.rmSync(junked);
  });

  describe('what is copied whole, with the reason', () => {
    const broken = path.join(dir, `broken-${sectorSize}.img`);
    async function mapPatched(patch: (b: Buffer) => void, volumeSize?: number) {
      fs.copyFileSync(image.file, broken);
      const fd = fs.openSync(broken, 'r+');
      const head = Buffer.alloc(1 << 20);
      fs.readSync(fd, head, 0, head.length, 0);
      patch(head);
      fs.writeSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      return withVolume(broken, (v) => exfatDriver.allocation!(v), volumeSize);
    }
    const cases: [string, (b: Buffer) => void, RegExp][] = [
      ['a volume marked dirty', (b) => (b[106] = (b[106] as number) | 2), /not cleanly unmounted/],
      ['a boot sector byte changed (checksum)', (b) => (b[200] = (b[200] as number) ^ 0xff), /checksum/],
      ['a bad sector size', (b) => (b[108] = 13), /bytes per sector/],
    ];
    for (const [name, patch, reason] of cases) {
      test(name, async () => {
        const map = await mapPatched(patch);
        assert.equal(map.kind, 'whole');
        if (map.kind === 'whole') assert.match(map.reason, reason);
      });
    }
    test('a filesystem larger than its volume', async () => {
      const map = await mapPatched(() => {}, size - (1 << 20));
      assert.equal(map.kind, 'whole');
      if (map.kind === 'whole') assert.match(map.reason, /larger than its volume/);
    });
    test('a root directory cluster the bitmap does not mark', async () => {
      const d = dumpFigures(image.file);
      const rootCluster = Number(/Root Cluster \(cluster offset\):\s+(\d+)/.exec(run('dump.exfat', [image.file]).stdout)?.[1]);
      const bitmapCluster = Number(/Bitmap start cluster:\s+(\d+)/.exec(run('dump.exfat', [image.file]).stdout)?.[1]);
      fs.copyFileSync(image.file, broken);
      const fd = fs.openSync(broken, 'r+');
      const at = d.heapStart + (bitmapCluster - 2) * d.clusterSize + ((rootCluster - 2) >> 3);
      const byte = Buffer.alloc(1);
      fs.readSync(fd, byte, 0, 1, at);
      byte[0] = (byte[0] as number) & ~(1 << ((rootCluster - 2) & 7));
      fs.writeSync(fd, byte, 0, 1, at);
      fs.closeSync(fd);
      const map = await withVolume(broken, (v) => exfatDriver.allocation!(v));
      assert.equal(map.kind, 'whole');
      if (map.kind === 'whole') assert.match(map.reason, /root directory is not marked/);
    });
  });
});
