import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { makeNtfs, withNtfsMount } from '../disks/ntfs/ntfs-test-volume';
import { SeekableZstdWriter } from '../formats/zstd-seekable-writer';
import { runTool, SLOW_TOOL_MS } from '../testing/run-tool';
import { tempDir } from '../testing/test-drives';
import { BrowseSession } from './browse-source';
import { COPY_MIN_BYTES, ExtentCopier, copyThrough } from './extract-copy';
import { Extractor } from './extract-files';

/**
 * Large files copied from their extents out of a seekable .zst (extract-copy.ts):
 * ext4 (mkfs.ext4 -d), FAT32 (mtools) and NTFS (ntfs-3g) each hold a file
 * big enough for the copier, fragmented where the tool lets it be and with
 * a hole; the backup's frames are 300,000 bytes so that they start neither on
 * a cluster nor on a copy step. The files the tools were given are the truth.
 */

const t = tempDir('extract-copy');
const want = new Map<string, Buffer>();
let backup = '';
/** The same disk as a raw image: no copier, every file through FilesystemView.read(). */
let rawDisk = '';

const MIB = 1 << 20;
const random = (n: number): Buffer => crypto.randomBytes(n);

/** A GPT disk image with each part's image copied to its partition, in order, from 1 MiB. */
async function makeGptDisk(file: string, parts: { image: string; size: number; type: string }[]): Promise<void> {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, MIB + parts.reduce((s, p) => s + p.size, 0) + MIB);
  await runTool('sfdisk', ['-q', file], { input: ['label: gpt', ...parts.map((p) => `size=${p.size / 512}, type=${p.type}`)].join('\n') + '\n' });
  const fd = fs.openSync(file, 'r+');
  let at = MIB;
  for (const p of parts) {
    const data = fs.readFileSync(p.image);
    fs.writeSync(fd, data, 0, data.length, at);
    at += p.size;
  }
  fs.closeSync(fd);
}

before(async () => {
  const ext = path.join(t.dir, 'ext-tree');
  fs.mkdirSync(ext);
  want.set('1:big.bin', random(9 * MIB + 4321));
  // A hole in the middle: mkfs.ext4 -d keeps it as a hole (or writes the zeros); the content is the same.
  const sparse = Buffer.concat([random(MIB), Buffer.alloc(5 * MIB), random(MIB + 17)]);
  want.set('1:sparse.bin', sparse);
  fs.writeFileSync(path.join(ext, 'big.bin'), want.get('1:big.bin')!);
  fs.writeFileSync(path.join(ext, 'sparse.bin'), sparse);
  fs.writeFileSync(path.join(t.dir, 'ext.img'), '');
  fs.truncateSync(path.join(t.dir, 'ext.img'), 40 * MIB);
  await runTool('mkfs.ext4', ['-q', '-F', '-d', ext, path.join(t.dir, 'ext.img')], SLOW_TOOL_MS);

  // FAT: a file written at the end of the volume and on into the gap a deleted one left: two cluster runs.
  const fat = path.join(t.dir, 'fat.img');
  const src = path.join(t.dir, 'fat-src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'gap.bin'), random(2 * MIB));
  fs.writeFileSync(path.join(src, 'keep.bin'), random(MIB));
  want.set('2:frag.bin', random(6 * MIB + 999));
  fs.writeFileSync(path.join(src, 'frag.bin'), want.get('2:frag.bin')!);
  fs.writeFileSync(fat, '');
  fs.truncateSync(fat, 40 * MIB);
  await runTool('mkfs.vfat', ['-F', '32', '-n', 'FATPART', fat], SLOW_TOOL_MS);
  const mcopy = (name: string) => runTool('mcopy', ['-i', fat, path.join(src, name), `::/${name}`], SLOW_TOOL_MS);
  await mcopy('gap.bin');
  await mcopy('keep.bin');
  // mtools allocates after the last cluster it gave: a filler leaves 5 MiB at the end, so frag.bin wraps round into gap.bin's clusters.
  const free = Number(/([\d ]+) bytes free/.exec((await runTool('mdir', ['-i', fat, '::/'])).stdout)?.[1]?.replace(/ /g, ''));
  fs.writeFileSync(path.join(src, 'filler.bin'), Buffer.alloc(free - 5 * MIB, 1));
  await mcopy('filler.bin');
  await runTool('mdel', ['-i', fat, '::/gap.bin'], SLOW_TOOL_MS);
  await mcopy('frag.bin');

  // NTFS: a file written backwards, 256 KiB at a time (each piece lands before the last: a run of its own), and one with a hole.
  const ntfs = path.join(t.dir, 'ntfs.img');
  await makeNtfs(ntfs, { sizeMiB: 48, clusterSize: 4096 });
  const a = random(8 * MIB + 5);
  await withNtfsMount(ntfs, false, async (dir) => {
    const fa = fs.openSync(path.join(dir, 'woven.bin'), 'w');
    const step = 256 * 1024;
    for (let at = Math.floor((a.length - 1) / step) * step; at >= 0; at -= step) fs.writeSync(fa, a, at, Math.min(step, a.length - at), at);
    fs.closeSync(fa);
    const hole = fs.openSync(path.join(dir, 'holey.bin'), 'w');
    fs.writeSync(hole, a, 0, MIB, 0);
    fs.writeSync(hole, a, MIB, MIB, 7 * MIB);
    fs.closeSync(hole);
  });
  want.set('3:woven.bin', a);
  want.set('3:holey.bin', Buffer.concat([a.subarray(0, MIB), Buffer.alloc(6 * MIB), a.subarray(MIB, 2 * MIB)]));

  const disk = path.join(t.dir, 'disk.img');
  await makeGptDisk(disk, [
    { image: path.join(t.dir, 'ext.img'), size: 40 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
    { image: fat, size: 40 * MIB, type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' },
    { image: ntfs, size: 48 * MIB, type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' },
  ]);
  for (const f of ['ext.img', 'fat.img', 'ntfs.img']) fs.rmSync(path.join(t.dir, f));
  backup = path.join(t.dir, 'disk.img.zst');
  const fd = fs.openSync(backup, 'w');
  const writer = new SeekableZstdWriter((bytes) => void fs.writeSync(fd, bytes), { level: 1, frameSize: 300_000 });
  const content = fs.readFileSync(disk);
  for (let at = 0; at < content.length; at += 4 * MIB) writer.write(content.subarray(at, at + 4 * MIB));
  writer.finish();
  fs.closeSync(fd);
  rawDisk = disk;
});

after(() => t.remove());

for (const kind of ['seekable .zst', 'raw image'] as const) test(`large files are copied from their extents, fragmented and holey alike, byte for byte (${kind})`, async () => {
  const session = await BrowseSession.open(kind === 'raw image' ? rawDisk : backup);
  const copier = ExtentCopier.for(session.source);
  if (kind === 'raw image') assert.equal(copier, null, 'a raw image is read through the view');
  else assert.ok(copier, 'a seekable .zst gets a copier');
  const dest = path.join(t.dir, `out-${kind.replace(/\W/g, '')}`);
  fs.mkdirSync(dest);
  try {
    for (const [key, data] of want) {
      const [part, name] = key.split(':') as [string, string];
      const view = await session.view(Number(part));
      const entry = await session.resolve(view, Number(part), name);
      const extents = await view.extents!(entry);
      assert.ok(extents, `${key}: the driver gives its extents`);
      assert.ok(entry.size >= COPY_MIN_BYTES, `${key} is large enough to go through the copier`);
      if (key === '2:frag.bin' || key === '3:woven.bin') assert.ok(extents.length > 1, `${key} is fragmented (${extents.length} extents)`);
      if (key === '3:holey.bin') assert.ok(extents.reduce((s, e) => s + e.length, 0) < entry.size, `${key}: its hole is left out of its extents`);
      const progress: number[] = [];
      const problems: string[] = [];
      const ex: Extractor = new Extractor(view, dest, { force: false, ...copyThrough(copier, session.partitions, Number(part)), onBytes: (b) => progress.push(b), onProblem: (x) => problems.push(x.message) });
      await ex.extract(entry, `/${name}`);
      assert.deepEqual(problems, [], key);
      assert.deepEqual(ex.totals, { files: 1, folders: 0, symlinks: 0, bytes: data.length, problems: 0 });
      assert.ok(progress.length > 1 && progress.at(-1) === data.length, `${key}: progress reaches the size`);
      const got = fs.readFileSync(path.join(dest, name));
      assert.equal(got.length, data.length, key);
      assert.ok(got.equals(data), `${key}: content`);
    }
  } finally {
    await session.close();
  }
});

test('extents outside the file or the partition are refused, and nothing is written', async () => {
  const session = await BrowseSession.open(backup);
  const copier = ExtentCopier.for(session.source)!;
  const p = session.partitions[0]!;
  const file = path.join(t.dir, 'refused.bin');
  const fd = fs.openSync(file, 'w');
  try {
    const bad = [
      [{ offset: 0, length: 8 * MIB, volumeOffset: p.size - MIB }],
      [{ offset: 0, length: MIB, volumeOffset: 0 }, { offset: MIB / 2, length: MIB, volumeOffset: 2 * MIB }],
      [{ offset: 4 * MIB, length: 2 * MIB, volumeOffset: 0 }],
      [{ offset: 0, length: MIB, volumeOffset: -4096 }],
    ];
    for (const extents of bad) {
      await assert.rejects(copier.copy(fd, 5 * MIB, extents, p.start, p.size, () => undefined), /outside the file or the partition/, JSON.stringify(extents));
    }
    assert.equal(fs.fstatSync(fd).size, 0);
  } finally {
    fs.closeSync(fd);
    await session.close();
  }
});
