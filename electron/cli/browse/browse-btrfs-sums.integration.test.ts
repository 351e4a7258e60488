import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { flipByte, logicalOf, physicalCopies } from '../../engine/disks/btrfs/testing/btrfs-images';
import { withLoopMount } from '../../engine/testing/loop-mount';
import { runCli } from '../testing/run-cli';
import { rows, smartBackupOf } from './browse-checks';
import { MIB, makeGptDisk } from './browse-fixtures';

/**
 * btrfs keeps a checksum of every data sector; the kernel refuses to read
 * one that does not match. `imprint extract` checks the same way: a file
 * whose data is damaged on the drive is reported and not extracted (the
 * rest is), whether it is read piece by piece (a raw image; small files)
 * or copied from its extents through a smart backup's seek table, its
 * damage in the middle, in its last, partly used sector, or in a compressed
 * extent. A nodatasum file (chattr +C) has no checksums: it is extracted as
 * the drive holds it, as the kernel reads it. With each checksum btrfs
 * offers for data (crc32c, xxhash64, sha256; blake2b volumes are not opened).
 */

const t = tempDir('browse-btrfs-sums');
after(() => t.remove());

const random = (n: number): Buffer => crypto.randomBytes(n);
const FILES: Record<string, Buffer> = {
  'big-good.bin': random(6 * MIB),
  'big-bad.bin': random(8 * MIB),
  'tail-bad.bin': random(5 * MIB + 1000),
  'small-bad.bin': random(100 << 10),
  'packed.txt': Buffer.from('a line that compresses well, again and again\n'.repeat(24_000)),
  'unsummed.bin': random(256 << 10),
};
/** Which byte of each file is damaged on the drive (packed.txt: its first compressed extent, where it lies on the disk). */
const DAMAGE: Record<string, number> = { 'big-bad.bin': 5 * MIB + 123, 'tail-bad.bin': 5 * MIB + 500, 'small-bad.bin': 70_000, 'packed.txt': 0, 'unsummed.bin': 4096 * 3 + 7 };

async function damagedDisk(csum: string): Promise<string> {
  const part = path.join(t.dir, `${csum}.part`);
  fs.writeFileSync(part, '');
  fs.truncateSync(part, 160 * MIB);
  await runTool('mkfs.btrfs', ['-q', '-f', '-L', 'SUMS', '--csum', csum, part], SLOW_TOOL_MS);
  const logical = new Map<string, number>();
  await withLoopMount(part, true, async (mnt) => {
    for (const [name, data] of Object.entries(FILES)) {
      const file = path.join(mnt, name);
      fs.writeFileSync(file, '');
      // Set on the empty file, before any data: nodatasum, and compression of what is written after.
      if (name === 'unsummed.bin') await runTool('chattr', ['+C', file], SLOW_TOOL_MS);
      if (name === 'packed.txt') await runTool('btrfs', ['property', 'set', file, 'compression', 'zstd'], SLOW_TOOL_MS);
      fs.writeFileSync(file, data);
    }
    await runTool('sync', [], SLOW_TOOL_MS);
    assert.match(execFileSync('filefrag', ['-v', path.join(mnt, 'packed.txt')], { encoding: 'utf8' }), /encoded/, 'packed.txt is stored compressed');
    for (const [name, at] of Object.entries(DAMAGE)) logical.set(name, logicalOf(path.join(mnt, name), at));
  });
  for (const [name, at] of logical) {
    const [place] = physicalCopies(part, at);
    assert.ok(place !== undefined, `${name}'s data is mapped`);
    flipByte(part, place);
  }
  const disk = path.join(t.dir, `${csum}.img`);
  await makeGptDisk(disk, [{ image: part, size: 160 * MIB, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' }]);
  fs.rmSync(part);
  return disk;
}

async function checkExtract(source: string, dest: string): Promise<void> {
  const x = await runCli(['extract', source, '1:/', dest, '--json']);
  assert.equal(x.code, 1, `problems are exit 1: ${x.stderr}`);
  const problems = rows(x.stdout).filter((r) => r.type === 'problem') as unknown as { path: string; message: string }[];
  const bad = ['big-bad.bin', 'tail-bad.bin', 'small-bad.bin', 'packed.txt'];
  assert.deepEqual(problems.map((p) => p.path).sort(), bad.map((n) => `/${n}`).sort(), JSON.stringify(problems));
  for (const p of problems) assert.match(p.message, /does not match the checksum btrfs keeps of it/);
  for (const name of bad) assert.equal(fs.existsSync(path.join(dest, name)), false, `${name} is not left behind`);
  assert.ok(fs.readFileSync(path.join(dest, 'big-good.bin')).equals(FILES['big-good.bin']!));
  // No checksums: what the drive holds, damage and all.
  const unsummed = Buffer.from(FILES['unsummed.bin']!);
  const at = DAMAGE['unsummed.bin']!;
  unsummed.writeUInt8(unsummed.readUInt8(at) ^ 0xff, at);
  assert.ok(fs.readFileSync(path.join(dest, 'unsummed.bin')).equals(unsummed));
  // The listing is not affected.
  const ls = await runCli(['ls', source, '1:/', '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(rows(ls.stdout).filter((r) => r.type === 'entry').length, Object.keys(FILES).length);
}

test('btrfs (crc32c): files whose data fails its checksums are reported and not extracted, from an image and through a smart backup; a nodatasum file is extracted as it is', async () => {
  const disk = await damagedDisk('crc32c');
  await checkExtract(disk, path.join(t.dir, 'from-image'));
  const backup = path.join(t.dir, 'disk.img.zst');
  await smartBackupOf(disk, backup);
  await checkExtract(backup, path.join(t.dir, 'from-backup'));
});

for (const csum of ['xxhash', 'sha256']) {
  test(`btrfs (${csum}): the same checks with the other checksums btrfs offers`, async () => {
    await checkExtract(await damagedDisk(csum), path.join(t.dir, `from-${csum}`));
  });
}
