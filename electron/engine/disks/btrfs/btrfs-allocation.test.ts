import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { btrfsDriver } from './btrfs-driver';
import { SUPER_OFFSET } from './btrfs-superblock';
import { driverForHead } from '../filesystem-registry';
import { checkMapShape, mappedBytesIn, must, run, scrambleOutside, tempDir, withVolume } from '../fat/testing/volume-files';
import { hashFiles, makeBtrfsImage, physicalCopies, superFigures } from './testing/btrfs-images';
import { withLoopMount } from '../../testing/loop-mount';
import type { AllocationMap } from '../filesystem-driver';

/**
 * btrfs used-block maps on volumes made by mkfs.btrfs and filled by the
 * kernel (files, a deleted one, a subvolume, a snapshot, reflinks), checked
 * against the superblock's own count, then end to end: junk everywhere
 * outside the map, and `btrfs check --check-data-csum` must find the volume
 * clean and a read-only mount read every file unchanged. Then what must be
 * copied whole: a log tree left by a crash, several devices, a checksum
 * type Imprint does not compute, damaged metadata.
 */

const dir = tempDir('imprint-btrfs-alloc-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const mapOf = (file: string, size?: number): Promise<AllocationMap> => withVolume(file, (v) => btrfsDriver.allocation!(v), size);

function assertWhole(map: AllocationMap, reason: RegExp): void {
  assert.equal(map.kind, 'whole', 'copied whole');
  if (map.kind === 'whole') {
    assert.equal(map.filesystem, 'btrfs');
    assert.match(map.reason, reason);
  }
}

const variants: [string, { mkfs?: string[]; mountOptions?: string[] }][] = [
  ['default (DUP metadata, crc32c)', {}],
  ['single metadata, xxhash64 checksums, zstd compression', { mkfs: ['-m', 'single', '--csum', 'xxhash'], mountOptions: ['compress=zstd'] }],
  ['sha256 checksums, 64 KiB nodes', { mkfs: ['--csum', 'sha256', '--nodesize', '65536'] }],
];

for (const [name, spec] of variants) {
  describe(`btrfs, ${name}, 320 MiB`, async () => {
    const image = await makeBtrfsImage(dir, `${name.replace(/\W+/g, '-')}.img`, { sizeMiB: 320, ...spec });
    const size = fs.statSync(image.file).size;

    test('the registry finds it by its magic at 64 KiB', () => {
      const head = Buffer.alloc(72 * 1024);
      const fd = fs.openSync(image.file, 'r');
      fs.readSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      assert.equal(driverForHead(head)?.family, 'btrfs');
      head.write('_BHRfS_X', SUPER_OFFSET + 0x40, 'latin1');
      assert.equal(btrfsDriver.detect(head), false);
    });

    test('the map holds what the superblock counts as used (DUP metadata twice), and little else', async () => {
      const map = await mapOf(image.file);
      assert.equal(checkMapShape(map, size), null);
      if (map.kind !== 'used-blocks') return;
      const { bytesUsed } = superFigures(image.file);
      assert.ok(map.usedBytes >= bytesUsed, `${map.usedBytes} mapped, ${bytesUsed} used`);
      // A partition listing shows the superblock's count, without walking the extent tree.
      assert.equal(await withVolume(image.file, (v) => btrfsDriver.usedBytes!(v)), bytesUsed);
      // Metadata counted twice (DUP), plus the first MiB and the superblock copies: never the deleted 12 MiB, nor the free space.
      assert.ok(map.usedBytes < bytesUsed + (8 << 20), `${map.usedBytes} mapped for ${bytesUsed} used`);
      assert.ok(map.usedBytes < size / 4, 'the free space is left out');
      // Both copies of a DUP tree block are kept (a read that fails on one falls back to the other, which must be there).
      const copies = physicalCopies(image.file, superFigures(image.file).root);
      assert.equal(copies.length, spec.mkfs?.includes('single') ? 1 : 2);
      for (const at of copies) assert.equal(mappedBytesIn(map, at, at + 4096), 4096, `the root tree's copy at ${at} is mapped`);
    });

    test('junk outside the map: btrfs check (data checksums too) is clean and every file reads the same', async () => {
      const map = await mapOf(image.file);
      const junked = path.join(dir, 'junked.img');
      const overwritten = scrambleOutside(image.file, junked, map);
      assert.ok(overwritten > size / 2, `only ${overwritten} bytes were outside the map`);
      const r = run('btrfs', ['check', '--readonly', '--check-data-csum', junked]);
      assert.equal(r.status, 0, `btrfs check on the junked copy:\n${r.stdout}${r.stderr}`);
      assert.ok(image.files.size > 300);
      assert.deepEqual(await withLoopMount(junked, false, (mnt) => hashFiles(mnt)), image.files);
      fs.rmSync(junked);
    });
  });
}

describe('what is copied whole, with the reason', async () => {
  const image = await makeBtrfsImage(dir, 'plain.img', { sizeMiB: 200 });
  const broken = path.join(dir, 'broken.img');
  const patched = (at: number, patch: (b: Buffer) => void): void => {
    fs.copyFileSync(image.file, broken);
    const fd = fs.openSync(broken, 'r+');
    const b = Buffer.alloc(4096);
    fs.readSync(fd, b, 0, b.length, at);
    patch(b);
    fs.writeSync(fd, b, 0, b.length, at);
    fs.closeSync(fd);
  };

  test('a log tree (fsync after the last commit, then no unmount)', async () => {
    // A copy of the device taken while it is mounted, after an fsync: what a crash leaves.
    const dirty = path.join(dir, 'dirty.img');
    await withLoopMount(
      image.file,
      true,
      (mnt, dev) => {
        const fd = fs.openSync(path.join(mnt, 'fsynced.txt'), 'w');
        fs.writeSync(fd, 'written and fsynced, not yet committed\n');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        must('dd', [`if=${dev}`, `of=${dirty}`, 'bs=1M', 'iflag=direct', 'status=none']);
      },
      ['commit=300'],
    );
    assert.notEqual(superFigures(dirty).logRoot, 0, 'the copy has a log tree');
    assertWhole(await mapOf(dirty), /not unmounted cleanly.*log tree/);
  });

  test('a superblock whose checksum does not match', async () => {
    patched(SUPER_OFFSET, (b) => (b[0x100] = (b[0x100] as number) ^ 1));
    assertWhole(await mapOf(broken), /superblock checksum/);
  });

  test('a damaged tree block: the second DUP copy is read; both copies damaged, whole', async () => {
    const { root } = superFigures(image.file);
    const copies = physicalCopies(image.file, root);
    assert.equal(copies.length, 2, 'metadata is DUP by default');
    patched(copies[0]!, (b) => (b[200] = (b[200] as number) ^ 0xff));
    const one = await withVolume(broken, (v) => btrfsDriver.allocation!(v));
    assert.equal(one.kind, 'used-blocks', 'the other copy checks');
    const fd = fs.openSync(broken, 'r+');
    fs.writeSync(fd, Buffer.from([0x5a]), 0, 1, copies[1]! + 300);
    fs.closeSync(fd);
    assertWhole(await mapOf(broken), /tree block at \d+ fails its checksum/);
  });

  test('a filesystem larger than its partition', async () => {
    assertWhole(await mapOf(image.file, fs.statSync(image.file).size - (16 << 20)), /claims \d+ bytes, but the partition holds/);
  });

  test('blake2b checksums, which Imprint does not compute', async () => {
    const b2 = path.join(dir, 'blake2.img');
    fs.writeFileSync(b2, '');
    fs.truncateSync(b2, 200 << 20);
    must('mkfs.btrfs', ['-q', '-f', '--csum', 'blake2', b2]);
    assertWhole(await mapOf(b2), /blake2b, which Imprint does not check/);
  });

  test('one device of a two-device filesystem (RAID1)', async () => {
    const [a, b] = ['raid-a.img', 'raid-b.img'].map((n) => path.join(dir, n)) as [string, string];
    for (const f of [a, b]) {
      fs.writeFileSync(f, '');
      fs.truncateSync(f, 200 << 20);
    }
    must('mkfs.btrfs', ['-q', '-f', '-d', 'raid1', '-m', 'raid1', a, b]);
    assertWhole(await mapOf(a), /spans 2 devices/);
  });
});
