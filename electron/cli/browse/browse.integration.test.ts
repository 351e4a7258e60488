import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachLoop } from '../../engine/testing/loop-device';
import { imprint, tempDir, tool } from '../../engine/testing/test-drives';
import { hostTree, makeExt4, makeFat, makeGptDisk, MIB, sha256, writeTree, type HostEntry } from './browse-fixtures';

/**
 * `imprint ls` and `imprint extract` (issue #16) on a GPT disk image holding
 * FAT32 (filled by mtools), ext4 (mkfs.ext4 -d) and a partition of zeros,
 * reached as a raw image, a drive, an Imprint backup (seekable zstd), a
 * multi-block .xz, a .gz and a .zip. The listing is compared entry by entry
 * with the host trees the filesystems were built from, and the extracted
 * files by hash and time.
 */

const t = tempDir('browse');
const extTree = path.join(t.dir, 'ext-tree');
const fatTree = path.join(t.dir, 'fat-tree');
const disk = path.join(t.dir, 'disk.img');
let loop: string | null = null;

before(async () => {
  writeTree(extTree, { symlinks: true });
  writeTree(fatTree, { symlinks: false });
  await makeFat(path.join(t.dir, 'fat.img'), 40 * MIB, fatTree);
  await makeExt4(path.join(t.dir, 'ext.img'), 24 * MIB, extTree);
  await makeGptDisk(disk, [
    { image: path.join(t.dir, 'fat.img'), size: 40 * MIB, type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' },
    { image: path.join(t.dir, 'ext.img'), size: 24 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
    { image: null, size: 2 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
  ]);
  fs.rmSync(path.join(t.dir, 'fat.img'));
  fs.rmSync(path.join(t.dir, 'ext.img'));
});

after(async () => {
  if (loop) await detachLoop(loop);
  t.remove();
});

type Row = { type: string; path?: string; kind?: string; size?: number; mode?: number | null; mtimeMs?: number | null; target?: string; number?: number; filesystem?: string | null; label?: string | null; problem?: string | null; usedBytes?: number | null };
const rows = (stdout: string): Row[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);

/** Compares `imprint ls -R --long --json` of a partition with the host tree it was built from. */
async function compareListing(source: string, part: number, tree: string, fat: boolean): Promise<void> {
  const r = await imprint('ls', source, `${part}:/`, '-R', '--long', '--json');
  assert.equal(r.code, 0, r.stderr);
  const listed = new Map(rows(r.stdout).filter((x) => x.type === 'entry').map((x) => [x.path!, x]));
  listed.delete('/lost+found');
  const host = hostTree(tree);
  assert.deepEqual([...listed.keys()].sort(), [...host.keys()].sort(), `${source} partition ${part}: the same paths`);
  for (const [p, h] of host) {
    const e = listed.get(p)!;
    assert.equal(e.kind, h.kind, p);
    if (h.kind !== 'directory') assert.equal(e.size, h.size, p);
    if (h.kind === 'symlink') assert.equal(e.target, h.target, p);
    if (!fat) assert.equal(e.mode, h.mode, `${p}: mode`);
    // FAT keeps times to 2 s; and folders' times on FAT are when mcopy made them.
    if (!fat) assert.equal(Math.floor(e.mtimeMs! / 1000), h.mtimeS, `${p}: mtime`);
    else if (h.kind === 'file') assert.ok(Math.abs(e.mtimeMs! / 1000 - h.mtimeS) <= 2, `${p}: mtime ${e.mtimeMs} vs ${h.mtimeS}`);
  }
}

/** Extracts a whole partition and compares every file by SHA-256 and time, symlinks by target. */
async function compareExtract(source: string, part: number, tree: string, fat: boolean): Promise<void> {
  const dest = fs.mkdtempSync(path.join(t.dir, 'out-'));
  const r = await imprint('extract', source, `${part}:/`, dest, '--json');
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const done = rows(r.stdout).find((x) => x.type === 'extracted') as unknown as { files: number; problems: number };
  const host = hostTree(tree);
  const got = hostTree(dest);
  got.delete('/lost+found');
  assert.deepEqual([...got.keys()].sort(), [...host.keys()].sort());
  assert.equal(done.files, [...host.values()].filter((h) => h.kind === 'file').length);
  for (const [p, h] of host) {
    const g = got.get(p) as HostEntry;
    assert.equal(g.kind, h.kind, p);
    if (h.kind === 'file') {
      assert.equal(sha256(path.join(dest, p)), sha256(path.join(tree, p)), `${p}: content`);
      assert.ok(Math.abs(g.mtimeS - h.mtimeS) <= (fat ? 2 : 0), `${p}: mtime ${g.mtimeS} vs ${h.mtimeS}`);
    }
    if (h.kind === 'symlink') assert.equal(g.target, h.target, p);
    if (!fat && h.kind !== 'symlink') assert.equal(g.mode, h.mode, `${p}: mode`);
  }
  fs.rmSync(dest, { recursive: true, force: true });
}

async function checkSource(source: string): Promise<void> {
  const r = await imprint('ls', source, '--json');
  assert.equal(r.code, 0, r.stderr);
  const parts = rows(r.stdout).filter((x) => x.type === 'partition');
  assert.deepEqual(parts.map((p) => [p.number, p.filesystem, p.label]), [[1, 'fat32', 'FATPART'], [2, 'ext4', 'EXTPART'], [3, null, null]]);
  assert.equal(parts[2]!.problem, 'not a filesystem Imprint can read');
  assert.ok(parts[1]!.usedBytes! > 3 * MIB, 'ext4 used space counts the 3 MiB file');
  await compareListing(source, 1, fatTree, true);
  await compareListing(source, 2, extTree, false);
  await compareExtract(source, 2, extTree, false);
  await compareExtract(source, 1, fatTree, true);
}

test('raw image: partitions, listings and extraction match the trees the filesystems were built from', async () => {
  await checkSource(disk);
  const human = await imprint('ls', disk);
  assert.match(human.stdout, /^3: .*not a filesystem Imprint can read/m);
});

test('a drive (read-only loop device) and its Imprint backup (seekable zstd) list and extract the same', async () => {
  loop = await attachLoop(disk, { readOnly: true });
  await checkSource(loop);
  const backup = path.join(t.dir, 'disk.img.zst');
  const b = await imprint('backup', loop, backup, '--compress', 'zstd', '--json');
  assert.equal(b.code, 0, b.stderr);
  await detachLoop(loop);
  loop = null;
  await checkSource(backup);
  const human = await imprint('ls', backup, '2:/');
  assert.doesNotMatch(human.stderr, /reading from the start/);
  fs.rmSync(backup);
});

test('a multi-block .xz is read through its block index; .gz and .zip from the start, and say so', async () => {
  const xz = path.join(t.dir, 'disk.img.xz');
  await tool('xz', ['-k', '-T2', '--block-size=1MiB', '-1', disk]);
  await checkSource(xz);
  const x = await imprint('ls', xz, '1:/');
  assert.doesNotMatch(x.stderr, /from the start/);
  fs.rmSync(xz);

  const gz = path.join(t.dir, 'disk.img.gz');
  await tool('gzip', ['-k', '-1', disk]);
  await checkSource(gz);
  const g = await imprint('ls', gz, '1:/');
  assert.match(g.stderr, /no index: reading from the start/);
  fs.rmSync(gz);

  const zip = path.join(t.dir, 'disk.zip');
  await tool('zip', ['-q', '-j', '-1', zip, disk]);
  await checkSource(zip);
  fs.rmSync(zip);
});

test('bad input exits 2 with a message: no such partition, no such path', async () => {
  const p = await imprint('ls', disk, '7:/');
  assert.equal(p.code, 2);
  assert.match(p.stderr, /no partition 7 \(partitions: 1, 2, 3\)/);
  const q = await imprint('ls', disk, '2:/docs/nope');
  assert.equal(q.code, 2);
  assert.match(q.stderr, /2:\/docs\/nope does not exist/);
  const e = await imprint('extract', disk, '3:/', path.join(t.dir, 'x'));
  assert.equal(e.code, 2);
  assert.match(e.stderr, /partition 3: not a filesystem Imprint can read/);
});

test('extract never replaces an existing file without --force', async () => {
  const dest = fs.mkdtempSync(path.join(t.dir, 'force-'));
  fs.writeFileSync(path.join(dest, 'notes.txt'), 'mine');
  const r = await imprint('extract', disk, '2:/docs/notes.txt', dest);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already exists/);
  assert.equal(fs.readFileSync(path.join(dest, 'notes.txt'), 'utf8'), 'mine');
  const f = await imprint('extract', disk, '2:/docs/notes.txt', dest, '--force');
  assert.equal(f.code, 0, f.stderr);
  assert.equal(fs.readFileSync(path.join(dest, 'notes.txt'), 'utf8'), 'hello\n');
});
