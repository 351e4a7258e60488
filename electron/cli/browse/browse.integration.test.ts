import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachLoop } from '../../engine/testing/loop-device';
import { tempDir } from '../../engine/testing/test-drives';
import { runCli } from '../testing/run-cli';
import { buildTestDisk, checkSource, type TestDisk } from './browse-checks';

/**
 * `imprint ls` and `imprint extract` (issue #16) on a GPT disk image holding
 * FAT32 (filled by mtools), ext4 (mkfs.ext4 -d) and a partition of zeros,
 * reached as a raw image, a drive and an Imprint backup (seekable zstd);
 * browse-formats.integration.test.ts does the compressed images. The listing is compared entry by entry
 * with the host trees the filesystems were built from, and the extracted
 * files by hash and time.
 */

const t = tempDir('browse');
let d: TestDisk;
let loop: string | null = null;

before(async () => {
  d = await buildTestDisk(t.dir);
});

after(async () => {
  if (loop) await detachLoop(loop);
  t.remove();
});

test('raw image: partitions, listings and extraction match the trees the filesystems were built from', async () => {
  await checkSource(d, d.disk);
  const human = await runCli(['ls', d.disk]);
  assert.match(human.stdout, /^3: .*not a filesystem Imprint can read/m);
});

test('a drive (read-only loop device) and its Imprint backup (seekable zstd) list and extract the same', async () => {
  loop = await attachLoop(d.disk, { readOnly: true });
  await checkSource(d, loop);
  const backup = path.join(t.dir, 'disk.img.zst');
  const b = await runCli(['backup', loop, backup, '--compress', 'zstd', '--json']);
  assert.equal(b.code, 0, b.stderr);
  await detachLoop(loop);
  loop = null;
  await checkSource(d, backup);
  const human = await runCli(['ls', backup, '2:/']);
  assert.doesNotMatch(human.stderr, /reading from the start/);
  fs.rmSync(backup);
});

test('bad input exits 2 with a message: no such partition, no such path', async () => {
  const p = await runCli(['ls', d.disk, '7:/']);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /no partition 7 \(partitions: 1, 2, 3\)/);
  const q = await runCli(['ls', d.disk, '2:/docs/nope']);
  assert.equal(q.code, 2);
  assert.match(q.stderr, /2:\/docs\/nope does not exist/);
  const e = await runCli(['extract', d.disk, '3:/', path.join(t.dir, 'x')]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /partition 3: not a filesystem Imprint can read/);
});

test('extract never replaces an existing file without --force', async () => {
  const dest = fs.mkdtempSync(path.join(t.dir, 'force-'));
  fs.writeFileSync(path.join(dest, 'notes.txt'), 'mine');
  const r = await runCli(['extract', d.disk, '2:/docs/notes.txt', dest]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already exists/);
  assert.equal(fs.readFileSync(path.join(dest, 'notes.txt'), 'utf8'), 'mine');
  const f = await runCli(['extract', d.disk, '2:/docs/notes.txt', dest, '--force']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(fs.readFileSync(path.join(dest, 'notes.txt'), 'utf8'), 'hello\n');
});

test('a symlink in the way is never followed: skipped without --force, replaced (not its target) with it; a folder in the way is kept', async () => {
  const dest = fs.mkdtempSync(path.join(t.dir, 'links-'));
  const outside = path.join(t.dir, `outside-${process.pid}.txt`);
  fs.writeFileSync(outside, 'not yours');
  const dangling = path.join(t.dir, `nowhere-${process.pid}.txt`);
  fs.symlinkSync(outside, path.join(dest, 'notes.txt'));
  const r = await runCli(['extract', d.disk, '2:/docs/notes.txt', dest]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /notes\.txt already exists/);
  assert.equal(fs.readFileSync(outside, 'utf8'), 'not yours');
  fs.rmSync(path.join(dest, 'notes.txt'));
  // A dangling symlink is taken as well (O_EXCL refuses it): without --force, nothing is created where it points.
  fs.symlinkSync(dangling, path.join(dest, 'notes.txt'));
  const s = await runCli(['extract', d.disk, '2:/docs/notes.txt', dest]);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /already exists/);
  assert.equal(fs.existsSync(dangling), false);
  const f = await runCli(['extract', d.disk, '2:/docs/notes.txt', dest, '--force']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(fs.lstatSync(path.join(dest, 'notes.txt')).isFile(), true);
  assert.equal(fs.readFileSync(path.join(dest, 'notes.txt'), 'utf8'), 'hello\n');
  assert.equal(fs.existsSync(dangling), false);
  assert.equal(fs.readFileSync(outside, 'utf8'), 'not yours');
  fs.rmSync(path.join(dest, 'notes.txt'));
  fs.mkdirSync(path.join(dest, 'notes.txt'));
  const g = await runCli(['extract', d.disk, '2:/docs/notes.txt', dest, '--force']);
  assert.equal(g.code, 1);
  assert.match(g.stderr, /notes\.txt is a folder/);
  assert.equal(fs.statSync(path.join(dest, 'notes.txt')).isDirectory(), true);
  fs.rmSync(outside);
});
