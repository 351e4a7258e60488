import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { xfsDriver } from './xfs-driver';
import { driverForHead } from '../filesystem-registry';
import { attachLoop, detachLoop } from '../../testing/loop-device';
import { withLoopMount } from '../../testing/loop-mount';
import { checkMapShape, must, run, scrambleOutside, tempDir, withVolume } from '../fat/testing/volume-files';
import { hashFiles } from '../btrfs/testing/btrfs-images';
import type { AllocationMap } from '../filesystem-driver';

/**
 * XFS used-block maps on volumes made by mkfs.xfs and filled by the kernel
 * (files, then every other one of many small files deleted, so the free
 * space is fragmented into hundreds of extents and the free-space B-tree has
 * more than one level), checked against xfs_db's free-block counts, then end
 * to end: junk everywhere outside the map, and `xfs_repair -n` must find the
 * volume clean and a read-only mount read every file unchanged. A log that a
 * mount would replay (the volume copied while mounted), an external log and
 * a damaged B-tree block make it whole, with the reason.
 */

const dir = tempDir('imprint-xfs-alloc-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const mapOf = (file: string): Promise<AllocationMap> => withVolume(file, (v) => xfsDriver.allocation!(v));

/** An XFS image filled through the kernel; returns the files' hashes. */
async function makeXfs(name: string, mkfs: string[]): Promise<{ file: string; files: Map<string, string> }> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 320 << 20);
  must('mkfs.xfs', ['-q', '-f', ...mkfs, file]);
  const files = await withLoopMount(file, true, (mnt) => {
    fs.writeFileSync(path.join(mnt, 'random.bin'), crypto.randomBytes(20 << 20));
    fs.mkdirSync(path.join(mnt, 'small'));
    for (let i = 0; i < 1600; i++) fs.writeFileSync(path.join(mnt, 'small', `f${i}`), crypto.randomBytes(3000 + (i % 5) * 1000));
    must('sync', ['-f', path.join(mnt, 'random.bin')]);
    for (let i = 0; i < 1600; i += 2) fs.rmSync(path.join(mnt, 'small', `f${i}`));
    fs.writeFileSync(path.join(mnt, 'gone.bin'), crypto.randomBytes(8 << 20));
    must('sync', ['-f', path.join(mnt, 'gone.bin')]);
    fs.rmSync(path.join(mnt, 'gone.bin'));
    return hashFiles(mnt);
  });
  return { file, files };
}

/** dblocks, block size and the free blocks each AGF counts, from xfs_db. */
function dbFigures(file: string): { bytes: number; freeBytes: number; bnoLevels: number[] } {
  const num = (out: string, key: string): number => Number(new RegExp(`^${key} = (\\d+)`, 'm').exec(out)?.[1] ?? NaN);
  const sbOut = must('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p blocksize dblocks agcount', file]);
  const bs = num(sbOut, 'blocksize');
  let free = 0;
  const levels: number[] = [];
  for (let ag = 0; ag < num(sbOut, 'agcount'); ag++) {
    const agf = must('xfs_db', ['-r', '-c', `agf ${ag}`, '-c', 'p freeblks bnolevel', file]);
    free += num(agf, 'freeblks');
    levels.push(num(agf, 'bnolevel'));
  }
  return { bytes: num(sbOut, 'dblocks') * bs, freeBytes: free * bs, bnoLevels: levels };
}

for (const [name, mkfs] of [
  ['v5 (CRCs, reflink), 4 KiB blocks', []],
  ['v5, 1 KiB blocks (a free-space tree of two levels)', ['-b', 'size=1024']],
] as [string, string[]][]) {
  describe(`xfs ${name}, 320 MiB`, async () => {
    const image = await makeXfs(`${name.replace(/\W+/g, '-')}.img`, mkfs);
    const size = fs.statSync(image.file).size;

    test('the registry finds it by its magic', () => {
      const head = Buffer.alloc(4096);
      const fd = fs.openSync(image.file, 'r');
      fs.readSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      assert.equal(driverForHead(head)?.family, 'xfs');
    });

    test('the map is everything but the free extents the AGFs count', async () => {
      assert.match(must('xfs_logprint', ['-t', image.file]), /<CLEAN>/);
      const map = await mapOf(image.file);
      assert.equal(checkMapShape(map, size), null);
      const db = dbFigures(image.file);
      if (mkfs.includes('size=1024')) assert.ok(db.bnoLevels.some((l) => l >= 2), `a two-level free-space tree: ${db.bnoLevels.join(',')}`);
      if (map.kind === 'used-blocks') assert.equal(map.usedBytes, db.bytes - db.freeBytes);
    });

    test('junk outside the map: xfs_repair -n is clean and every file reads the same', async () => {
      const map = await mapOf(image.file);
      const junked = path.join(dir, 'junked.img');
      const overwritten = scrambleOutside(image.file, junked, map);
      assert.ok(overwritten > size / 3, `only ${overwritten} bytes were outside the map`);
      const r = run('xfs_repair', ['-n', '-f', junked]);
      assert.equal(r.status, 0, `xfs_repair -n on the junked copy:\n${r.stdout}${r.stderr}`);
      assert.ok(image.files.size > 800);
      assert.deepEqual(await withLoopMount(junked, false, (mnt) => hashFiles(mnt)), image.files);
      fs.rmSync(junked);
    });
  });
}

describe('what is copied whole, with the reason', async () => {
  const image = await makeXfs('plain.img', []);

  test('a log a mount would replay (the volume copied while mounted, after a sync)', async () => {
    const dirty = path.join(dir, 'dirty.img');
    await withLoopMount(image.file, true, (mnt, dev) => {
      fs.writeFileSync(path.join(mnt, 'late.txt'), 'written while mounted\n');
      must('sync', []);
      fs.writeFileSync(path.join(mnt, 'later.txt'), 'and more\n');
      must('sync', ['-f', path.join(mnt, 'later.txt')]);
      must('dd', [`if=${dev}`, `of=${dirty}`, 'bs=1M', 'iflag=direct', 'status=none']);
    });
    assert.doesNotMatch(must('xfs_logprint', ['-t', dirty]), /<CLEAN>/, 'xfs_logprint agrees it is not clean');
    const map = await mapOf(dirty);
    assert.equal(map.kind, 'whole');
    if (map.kind === 'whole') assert.match(map.reason, /not unmounted cleanly.*Mount it once/);
    // Once unmounted, the same volume is clean again.
    assert.equal((await mapOf(image.file)).kind, 'used-blocks');
    fs.rmSync(dirty);
  });

  test('a damaged free-space tree block', async () => {
    const broken = path.join(dir, 'broken.img');
    fs.copyFileSync(image.file, broken);
    const root = Number(/^bnoroot = (\d+)/m.exec(must('xfs_db', ['-r', '-c', 'agf 1', '-c', 'p bnoroot', broken]))?.[1]);
    const bs = Number(/^blocksize = (\d+)/m.exec(must('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p blocksize agblocks', broken]))?.[1]);
    const agblocks = Number(/^agblocks = (\d+)/m.exec(must('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p agblocks', broken]))?.[1]);
    const fd = fs.openSync(broken, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, (agblocks + root) * bs + 100);
    fs.closeSync(fd);
    const map = await mapOf(broken);
    assert.equal(map.kind, 'whole');
    if (map.kind === 'whole') assert.match(map.reason, /free-space tree block \d+ of allocation group 1 fails its checksum/);
    fs.rmSync(broken);
  });

  test('a log on another device', async () => {
    const data = path.join(dir, 'extlog-data.img');
    const log = path.join(dir, 'extlog-log.img');
    for (const [f, mib] of [[data, 320], [log, 64]] as const) {
      fs.writeFileSync(f, '');
      fs.truncateSync(f, mib << 20);
    }
    const logDev = await attachLoop(log, {});
    try {
      must('mkfs.xfs', ['-q', '-f', '-l', `logdev=${logDev}`, data]);
    } finally {
      await detachLoop(logDev);
    }
    const map = await mapOf(data);
    assert.equal(map.kind, 'whole');
    if (map.kind === 'whole') assert.match(map.reason, /log is on another device/);
  });
});

test('a v4 volume (no CRCs): the map keeps what xfs_repair needs, and the files read back', async () => {
  // This kernel does not mount v4 (deprecated): mkfs.xfs fills it from a prototype file instead.
  const src = path.join(dir, 'v4-src');
  fs.mkdirSync(src, { recursive: true });
  const files = new Map<string, Buffer>([['random.bin', crypto.randomBytes(3 << 20)]]);
  for (let i = 0; i < 400; i++) files.set(`small/f${i}`, crypto.randomBytes(500 + i));
  const lines = ['/dummy', '0 0', 'd--755 0 0', `random.bin ---644 0 0 ${path.join(src, 'random.bin')}`, 'small d--755 0 0'];
  for (const [name, data] of files) {
    fs.writeFileSync(path.join(src, name.replace('/', '-')), data);
    if (name.startsWith('small/')) lines.push(`${name.slice(6)} ---644 0 0 ${path.join(src, name.replace('/', '-'))}`);
  }
  lines.push('$', '$');
  const proto = path.join(dir, 'v4.proto');
  fs.writeFileSync(proto, lines.join('\n') + '\n');
  const image = path.join(dir, 'v4.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 320 << 20);
  must('mkfs.xfs', ['-q', '-f', '-m', 'crc=0', '-p', proto, image]);
  const map = await mapOf(image);
  assert.equal(checkMapShape(map, fs.statSync(image).size), null);
  const junked = path.join(dir, 'v4-junked.img');
  scrambleOutside(image, junked, map);
  const r = run('xfs_repair', ['-n', '-f', junked]);
  assert.equal(r.status, 0, `xfs_repair -n on the junked v4 copy:\n${r.stdout}${r.stderr}`);
  await withVolume(junked, async (v) => {
    const view = await xfsDriver.open!(v);
    const root = await view.list(view.root());
    assert.deepEqual(root.map((e) => e.name).sort(), ['random.bin', 'small']);
    const small = await view.list(root.find((e) => e.name === 'small')!);
    assert.equal(small.length, 400, 'a folder of several blocks');
    for (const e of [...small.slice(0, 20), root.find((x) => x.name === 'random.bin')!]) {
      const key = e.name === 'random.bin' ? 'random.bin' : `small/${e.name}`;
      assert.ok((await view.read(e, 0, e.size)).equals(files.get(key)!), key);
    }
  });
});
