import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { flipByte, logicalOf, mirrorsOf } from '../../engine/disks/btrfs/testing/btrfs-images';
import { withLoopMount } from '../../engine/testing/loop-mount';
import { runCli } from '../testing/run-cli';
import { rows, smartBackupOf } from './browse-checks';
import { MIB, makeGptDisk } from './browse-fixtures';

/**
 * btrfs with DUP data (`mkfs.btrfs -d dup`, what people choose for a
 * single USB stick or SD card) keeps two copies of every data sector on the
 * drive; where the first fails its checksum, the kernel reads the second.
 * So does `imprint extract`: a file whose first copy is damaged comes out
 * whole, from a raw image (read piece by piece: a small file, a compressed
 * one) and through a smart backup (the large file copied from its extents,
 * its damaged bytes replaced by the second copy's). Only a file damaged in
 * both copies is reported, and not extracted.
 */

const t = tempDir('browse-btrfs-dup');
after(() => t.remove());

const FILES: Record<string, Buffer> = {
  'big.bin': crypto.randomBytes(8 * MIB),
  'small.bin': crypto.randomBytes(100 << 10),
  'packed.txt': Buffer.from('a line that compresses well, again and again\n'.repeat(24_000)),
};
/** The damaged byte of each file (packed.txt: its first compressed extent, where it lies on the disk). */
const DAMAGE: Record<string, number> = { 'big.bin': 5 * MIB + 123, 'small.bin': 70_000, 'packed.txt': 0 };

/** A DUP-data btrfs holding FILES, the first copy of each damaged; `bothOf` also damaged in its second copy. */
async function dupDisk(name: string, bothOf: string | null): Promise<string> {
  const part = path.join(t.dir, `${name}.part`);
  fs.writeFileSync(part, '');
  fs.truncateSync(part, 256 * MIB);
  await runTool('mkfs.btrfs', ['-q', '-f', '-L', 'DUP', '-d', 'dup', '-m', 'dup', part], SLOW_TOOL_MS);
  const logical = new Map<string, number>();
  await withLoopMount(part, true, async (mnt) => {
    for (const [file, data] of Object.entries(FILES)) {
      const p = path.join(mnt, file);
      fs.writeFileSync(p, '');
      if (file === 'packed.txt') await runTool('btrfs', ['property', 'set', p, 'compression', 'zstd'], SLOW_TOOL_MS);
      fs.writeFileSync(p, data);
    }
    await runTool('sync', [], SLOW_TOOL_MS);
    assert.match(execFileSync('filefrag', ['-v', path.join(mnt, 'packed.txt')], { encoding: 'utf8' }), /encoded/, 'packed.txt is stored compressed');
    for (const [file, at] of Object.entries(DAMAGE)) logical.set(file, logicalOf(path.join(mnt, file), at));
  });
  for (const [file, at] of logical) {
    const copies = mirrorsOf(part, at);
    assert.equal(copies.length, 2, `${file}'s data has two copies on the drive (DUP)`);
    assert.notEqual(copies[0], copies[1]);
    flipByte(part, copies[0]!);
    if (file === bothOf) flipByte(part, copies[1]!);
  }
  const disk = path.join(t.dir, `${name}.img`);
  await makeGptDisk(disk, [{ image: part, size: 256 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' }]);
  fs.rmSync(part);
  return disk;
}

async function extractAll(source: string, dest: string): Promise<{ code: number | null; problems: { path: string; message: string }[] }> {
  const x = await runCli(['extract', source, '1:/', dest, '--json']);
  const problems = rows(x.stdout).filter((r) => r.type === 'problem') as unknown as { path: string; message: string }[];
  return { code: x.code, problems };
}

test('btrfs DUP data: a file whose first copy is damaged is extracted whole from the second, from an image and through a smart backup', async () => {
  const disk = await dupDisk('first-copies', null);
  const backup = path.join(t.dir, 'first-copies.img.zst');
  await smartBackupOf(disk, backup);
  for (const [source, dest] of [[disk, 'from-image'], [backup, 'from-backup']] as const) {
    const out = path.join(t.dir, dest);
    const x = await extractAll(source, out);
    assert.deepEqual(x.problems, [], `${dest}: no problems`);
    assert.equal(x.code, 0);
    for (const [file, data] of Object.entries(FILES)) assert.ok(fs.readFileSync(path.join(out, file)).equals(data), `${dest}: ${file} is the file as written`);
  }
});

test('btrfs DUP data: a file damaged in both copies is reported and not extracted; the others come out whole', async () => {
  const disk = await dupDisk('both-copies', 'big.bin');
  const backup = path.join(t.dir, 'both-copies.img.zst');
  await smartBackupOf(disk, backup);
  for (const [source, dest] of [[disk, 'both-from-image'], [backup, 'both-from-backup']] as const) {
    const out = path.join(t.dir, dest);
    const x = await extractAll(source, out);
    assert.equal(x.code, 1, `${dest}: a problem is exit 1`);
    assert.deepEqual(x.problems.map((p) => p.path), ['/big.bin'], JSON.stringify(x.problems));
    assert.match(x.problems[0]!.message, /does not match the checksum btrfs keeps of it/);
    assert.equal(fs.existsSync(path.join(out, 'big.bin')), false, `${dest}: big.bin is not left behind`);
    for (const file of ['small.bin', 'packed.txt']) assert.ok(fs.readFileSync(path.join(out, file)).equals(FILES[file]!), `${dest}: ${file} is whole`);
  }
});
