import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runTool } from '../../testing/run-tool';
import type { AllocationMap } from '../filesystem-driver';
import { volumeFromFd } from '../volume';
import { extDriver } from './ext-driver';
import {
  debugfs, dumpe2fsUsedBlocks, editSuperblock, fsckClean, fsckFix, imageFileHashes, junkCopy, makeImage, openVolume, rangesToBlocks,
  tempDir, withMounted, writeTree, MOUNT_SKIP,
} from './ext-test-fixtures';

const MiB = 1 << 20;

interface Case {
  name: string;
  mkfs: string;
  size: number;
  args: string[];
  /** Fill through a kernel mount instead of mke2fs -d + debugfs rm. */
  kernel?: boolean;
  /** Run on the image after it is filled. */
  post?: (img: string) => Promise<unknown>;
  /** dumpe2fs must show at least one BLOCK_UNINIT group. */
  expectUninit?: boolean;
  filesystem: string;
}

const CASES: Case[] = [
  { name: 'ext2, 1 KiB blocks, 8 groups', mkfs: 'mkfs.ext2', size: 64 * MiB, args: ['-b', '1024'], filesystem: 'ext2' },
  { name: 'ext3, 4 KiB blocks, 4 groups', mkfs: 'mkfs.ext3', size: 64 * MiB, args: ['-b', '4096', '-g', '4096'], filesystem: 'ext3' },
  {
    name: 'ext4 without 64bit and flex_bg, 1 KiB blocks, 8 groups', mkfs: 'mkfs.ext4', size: 64 * MiB,
    args: ['-b', '1024', '-O', '^64bit,^flex_bg'], filesystem: 'ext4', expectUninit: true,
  },
  {
    name: 'ext4 64bit + flex_bg, 4 KiB blocks, crc16 descriptors (uninit_bg)', mkfs: 'mkfs.ext4', size: 128 * MiB,
    args: ['-b', '4096', '-g', '8192', '-O', '^metadata_csum,uninit_bg'], filesystem: 'ext4', expectUninit: true,
  },
  {
    name: 'ext4 meta_bg, 1 KiB blocks, 64 groups', mkfs: 'mkfs.ext4', size: 64 * MiB,
    args: ['-b', '1024', '-g', '1024', '-O', 'meta_bg,^resize_inode,^64bit'], filesystem: 'ext4', expectUninit: true,
  },
  {
    name: 'ext4 sparse_super2, 1 KiB blocks', mkfs: 'mkfs.ext4', size: 64 * MiB,
    args: ['-b', '1024', '-O', 'sparse_super2', '-E', 'num_backup_sb=1'], filesystem: 'ext4',
  },
  {
    // Descriptor and bitmap checksums seeded from s_checksum_seed, not from the (changed) UUID.
    name: 'ext4 metadata_csum_seed after a UUID change', mkfs: 'mkfs.ext4', size: 64 * MiB,
    args: ['-b', '4096', '-g', '4096', '-O', 'metadata_csum_seed'], filesystem: 'ext4', expectUninit: true,
    post: (img) => runTool('tune2fs', ['-U', 'random', img]),
  },
  {
    // No journal: its minimum of 1024 blocks would be half of this small image.
    name: 'ext4 with 64 KiB blocks', mkfs: 'mkfs.ext4', size: 128 * MiB, args: ['-b', '65536', '-O', '^has_journal'], filesystem: 'ext4',
  },
  {
    // Default features; 16 groups rather than 4, because the kernel's Orlov
    // allocator spreads new folders over groups and would touch all 4.
    name: 'ext4 defaults, 16 groups on a 512 MiB sparse image, written by the kernel', mkfs: 'mkfs.ext4', size: 512 * MiB,
    args: ['-g', '8192'], kernel: true, expectUninit: true, filesystem: 'ext4',
  },
];

let work: string;
before(() => {
  work = tempDir('imprint-ext-alloc-');
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

async function buildCase(c: Case, img: string): Promise<void> {
  const src = path.join(work, 'src');
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src);
  const names = writeTree(src, 60, c.size / 256);
  if (c.kernel) {
    await makeImage(img, c.size, c.mkfs, c.args);
    await withMounted(img, async (mnt) => {
      await runTool('cp', ['-a', `${src}/.`, mnt], 60_000);
      // A large file, deleted, leaves old data in free space.
      fs.writeFileSync(path.join(mnt, 'big-deleted'), Buffer.alloc(8 * MiB, 0x5a));
      await runTool('sync', []);
      fs.rmSync(path.join(mnt, 'big-deleted'));
      names.filter((_, i) => i % 4 === 1).forEach((n) => fs.rmSync(path.join(mnt, n)));
    });
  } else {
    await makeImage(img, c.size, c.mkfs, c.args, src);
    // debugfs rm frees the blocks in the bitmaps and leaves their data in place.
    await debugfs(img, names.filter((_, i) => i % 4 === 1).map((n) => `rm /${n}`), true);
  }
  await c.post?.(img);
}

/**
 * What a crash leaves: files written and fsync'd (committed to the journal,
 * data in place) on a mounted filesystem, and the image copied before the
 * kernel writes the new bitmaps home (it waits 30 s, dirty_expire_centisecs).
 */
async function crashSnapshot(dest: string, mkfsArgs: string[]): Promise<void> {
  const live = path.join(work, 'live.img');
  await makeImage(live, 128 * MiB, 'mkfs.ext4', mkfsArgs);
  await withMounted(live, async (mnt) => {
    fs.mkdirSync(path.join(mnt, 'd'));
    await runTool('sync', []);
    for (let i = 1; i <= 80; i++) {
      const fd = fs.openSync(path.join(mnt, 'd', `f${i}`), 'w');
      fs.writeSync(fd, crypto.randomBytes(i * 20_000));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fs.copyFileSync(live, dest);
  });
  fs.rmSync(live, { force: true });
}

async function allocationOf(img: string): Promise<AllocationMap> {
  const { volume, close } = openVolume(img);
  try {
    return await extDriver.allocation!(volume);
  } finally {
    close();
  }
}

describe('ext allocation maps on real filesystems', () => {
  for (const c of CASES) {
    it(c.name, { skip: c.kernel ? MOUNT_SKIP : false }, async () => {
      const img = path.join(work, 'fs.img');
      await buildCase(c, img);
      await fsckClean(img);
      const head = Buffer.alloc(72 * 1024);
      const fd = fs.openSync(img, 'r');
      fs.readSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      assert.equal(extDriver.detect(head), true);

      const map = await allocationOf(img);
      assert.equal(map.kind, 'used-blocks', map.kind === 'whole' ? map.reason : '');
      if (map.kind !== 'used-blocks') return;
      assert.equal(map.filesystem, c.filesystem);

      // (a) Exactly the blocks libext2fs calls used (dumpe2fs), block 0 included.
      const ref = await dumpe2fsUsedBlocks(img);
      if (c.expectUninit) {
        const groups = (await runTool('dumpe2fs', [img])).stdout;
        assert.match(groups, /BLOCK_UNINIT/, 'the fixture should have uninitialised groups');
      }
      assert.equal(map.blockSize, ref.blockSize);
      const mine = rangesToBlocks(map.ranges, map.blockSize, ref.used.length);
      const diff: number[] = [];
      for (let b = 0; b < ref.used.length && diff.length < 10; b++) if (mine[b] !== ref.used[b]) diff.push(b);
      assert.deepEqual(diff, [], `blocks where the map and dumpe2fs differ (first 10)`);
      assert.equal(map.usedBytes, mine.reduce((s, v) => s + v, 0) * map.blockSize);
      for (let i = 1; i < map.ranges.length; i++) assert.ok(map.ranges[i]!.start > map.ranges[i - 1]!.start + map.ranges[i - 1]!.length, 'ranges sorted and merged');
      assert.ok(map.usedBytes < c.size / 2, `a mostly empty filesystem uses ${map.usedBytes} of ${c.size} bytes`);

      // (b) Junk everywhere else: the filesystem still checks clean and every file reads the same.
      const junked = path.join(work, 'junked.img');
      junkCopy(img, map.ranges, junked);
      try {
        await fsckClean(junked);
        const want = await imageFileHashes(img);
        assert.ok(want.size > 30, `${want.size} files to compare`);
        assert.deepEqual(await imageFileHashes(junked), want);
      } finally {
        fs.rmSync(junked, { force: true });
        fs.rmSync(img, { force: true });
      }
    });
  }
});

describe('ext with a journal that was never replayed', { skip: MOUNT_SKIP }, () => {
  let snap: string;
  let ref: string;
  let want: Map<string, string>;
  before(async () => {
    snap = path.join(work, 'snap.img');
    // 4 groups, so that groups uninitialised on disk get their first bitmap in the log.
    await crashSnapshot(snap, ['-g', '8192']);
    ref = path.join(work, 'replayed.img');
    fs.copyFileSync(snap, ref);
    fsckFix(ref);
    await fsckClean(ref);
    want = await imageFileHashes(ref);
  });
  after(() => [snap, ref].forEach((f) => fs.rmSync(f, { force: true })));

  it('maps what the replay will use: junk elsewhere, replay, and every file is intact', async () => {
    assert.match((await runTool('dumpe2fs', ['-h', snap])).stdout, /needs_recovery/);
    const map = await allocationOf(snap);
    assert.equal(map.kind, 'used-blocks', map.kind === 'whole' ? map.reason : '');
    if (map.kind !== 'used-blocks') return;
    const onDisk = await dumpe2fsUsedBlocks(snap); // the bitmaps as they are, journal not replayed
    const replayed = await dumpe2fsUsedBlocks(ref);
    const mine = rangesToBlocks(map.ranges, map.blockSize, replayed.used.length);
    const missing = replayed.used.reduce((n, u, b) => n + (u && !mine[b] ? 1 : 0), 0);
    assert.equal(missing, 0, 'blocks used after the replay but left out of the map');
    const count = (u: Uint8Array) => u.reduce((n, v) => n + v, 0);
    assert.ok(count(mine) > count(onDisk.used) + 1000, `the journal added blocks (${count(mine)} vs ${count(onDisk.used)} on disk)`);
    assert.ok(count(mine) - count(replayed.used) < 64, `at most a few blocks more than the replay uses (${count(mine)} vs ${count(replayed.used)})`);

    const junked = path.join(work, 'snap-junked.img');
    junkCopy(snap, map.ranges, junked);
    try {
      fsckFix(junked);
      await fsckClean(junked);
      assert.equal(want.size, 80);
      assert.deepEqual(await imageFileHashes(junked), want);
    } finally {
      fs.rmSync(junked, { force: true });
    }
  });

  it('opens as the replay will leave it, without writing', async () => {
    const hashBefore = crypto.createHash('sha256').update(fs.readFileSync(snap)).digest('hex');
    const { volume, close } = openVolume(snap);
    try {
      const view = await extDriver.open!(volume);
      assert.match(view.warnings.join('\n'), /journal \(\d+ blocks from \d+ transactions\) is applied in memory/);
      const d = (await view.list(view.root())).find((e) => e.name === 'd');
      assert.ok(d);
      const got = new Map<string, string>();
      for (const e of await view.list(d)) {
        got.set(path.join('d', e.name), crypto.createHash('sha256').update(await view.read(e, 0, e.size)).digest('hex'));
      }
      assert.deepEqual(got, new Map([...want].filter(([k]) => k.startsWith('d/'))));
    } finally {
      close();
    }
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(snap)).digest('hex'), hashBefore);
  });
});

describe('ext metadata that does not check out is copied whole', () => {
  let img: string;
  before(async () => {
    img = path.join(work, 'bad.img');
    await makeImage(img, 16 * MiB, 'mkfs.ext4', ['-b', '1024']);
  });
  const expectWhole = async (file: string, re: RegExp) => {
    const map = await allocationOf(file);
    assert.equal(map.kind, 'whole');
    if (map.kind === 'whole') assert.match(map.reason, re);
  };
  const variant = (name: string) => {
    const p = path.join(work, name);
    fs.copyFileSync(img, p);
    return p;
  };

  it('reads the pristine image as used blocks', async () => {
    assert.equal((await allocationOf(img)).kind, 'used-blocks');
  });
  it('a superblock field changed without its checksum', async () => {
    const p = variant('csum.img');
    editSuperblock(p, (sb) => sb.writeUInt32LE(sb.readUInt32LE(0x20) - 8, 0x20), false);
    await expectWhole(p, /superblock checksum does not match/);
  });
  it('a zeroed superblock', async () => {
    const p = variant('zero.img');
    editSuperblock(p, (sb) => sb.fill(0), false);
    await expectWhole(p, /no ext2\/3\/4 superblock magic/);
    assert.equal(extDriver.detect(fs.readFileSync(p).subarray(0, 72 * 1024)), false);
  });
  it('an unknown incompatible feature', async () => {
    const p = variant('incompat.img');
    editSuperblock(p, (sb) => sb.writeUInt32LE(sb.readUInt32LE(0x60) | 0x100000, 0x60), true);
    await expectWhole(p, /incompatible features this reader does not know \(0x100000\)/);
  });
  it('a recovery flag over an empty journal changes nothing', async () => {
    const p = variant('recover.img');
    editSuperblock(p, (sb) => sb.writeUInt32LE(sb.readUInt32LE(0x60) | 0x4, 0x60), true);
    assert.deepEqual(await allocationOf(p), await allocationOf(img));
  });
  it('a journal that needs recovery and uses fast commits', { skip: MOUNT_SKIP }, async () => {
    const p = path.join(work, 'fc.img');
    await crashSnapshot(p, ['-O', 'fast_commit']);
    await expectWhole(p, /fast commits/);
  });
  it('bigalloc', async () => {
    const p = path.join(work, 'bigalloc.img');
    await makeImage(p, 16 * MiB, 'mkfs.ext4', ['-O', 'bigalloc', '-C', '16384']);
    await expectWhole(p, /uses bigalloc/);
  });
  it('an unknown read-only feature', async () => {
    const p = variant('rocompat.img');
    editSuperblock(p, (sb) => sb.writeUInt32LE(sb.readUInt32LE(0x64) | 0x80000, 0x64), true);
    await expectWhole(p, /read-only features this reader does not know \(0x80000\)/);
  });
  it('a filesystem larger than its volume', async () => {
    const fd = fs.openSync(img, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const map = await extDriver.allocation!(volumeFromFd(fd, 0, size - 4096));
      assert.equal(map.kind, 'whole');
      if (map.kind === 'whole') assert.match(map.reason, new RegExp(`says it is ${size} bytes but the volume holds only ${size - 4096}`));
    } finally {
      fs.closeSync(fd);
    }
  });
  it('a damaged group descriptor', async () => {
    const p = variant('gdt.img');
    const fd = fs.openSync(p, 'r+');
    // 1 KiB blocks: the descriptor table starts at block 2; group 1's inode table pointer (64-byte descriptors).
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 2048 + 1 * 64 + 8);
    fs.closeSync(fd);
    await expectWhole(p, /group 1's descriptor checksum does not match/);
  });
  it('an ext2 without checksums whose descriptor points outside its group', async () => {
    const p = path.join(work, 'ext2-gdt.img');
    await makeImage(p, 16 * MiB, 'mkfs.ext2', ['-b', '1024']);
    const fd = fs.openSync(p, 'r+');
    const b = Buffer.alloc(4);
    b.writeUInt32LE(3);
    fs.writeSync(fd, b, 0, 4, 2048 + 1 * 32); // group 1's block bitmap -> block 3 (group 0)
    fs.closeSync(fd);
    await expectWhole(p, /group 1's block bitmap \(block 3\) is outside its group/);
  });
  it('a bitmap that disagrees with its free count', async () => {
    const p = path.join(work, 'ext2-bitmap.img');
    await makeImage(p, 16 * MiB, 'mkfs.ext2', ['-b', '1024']);
    const out = (await runTool('dumpe2fs', [p])).stdout;
    const bitmapBlock = Number(/Group 1:[\s\S]*?Block bitmap at (\d+)/.exec(out)![1]);
    const fd = fs.openSync(p, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, bitmapBlock * 1024 + 600);
    fs.closeSync(fd);
    await expectWhole(p, /group 1's bitmap has \d+ free blocks but its descriptor says/);
  });
});
