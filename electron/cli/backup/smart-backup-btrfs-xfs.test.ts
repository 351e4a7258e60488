import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { BackupMetadata } from '../../../shared/backup-metadata';
import { announcePartitions, noise, tempDir } from '../../engine/testing/test-drives';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { hashFiles } from '../../engine/disks/btrfs/testing/btrfs-images';
import { runCli } from '../testing/run-cli';

/**
 * A smart backup of a drive holding btrfs (the default of Fedora and
 * openSUSE installs) and XFS (RHEL's), through the `imprint` command: the
 * drive held junk before it was partitioned, each filesystem got files and
 * deleted ones. Only their used blocks are stored; the restore onto
 * another junk-filled drive passes `btrfs check --check-data-csum` and
 * `xfs_repair -n` with every file the same, and `imprint ls` names both.
 */

const MiB = 1 << 20;
const SIZE = 720 * MiB;
const t = tempDir('smart-btrfs');
const drives: LoopDevice[] = [];
let expected = new Map<string, string>();
let expectedXfs = new Map<string, string>();

function fillWithJunk(device: string, seed: number): void {
  const fd = fs.openSync(device, 'w');
  try {
    for (let at = 0; at < SIZE; at += 16 * MiB) fs.writeSync(fd, noise(16 * MiB, seed + at / MiB), 0, 16 * MiB, at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function junkDrive(name: string, seed: number): Promise<LoopDevice> {
  const d = await createLoopDevice(SIZE, { file: path.join(t.dir, name) });
  drives.push(d);
  fillWithJunk(d.device, seed);
  return d;
}

async function withMount<T>(part: string, options: string, fn: (dir: string) => T): Promise<T> {
  const mnt = fs.mkdtempSync(path.join(t.dir, 'mnt-'));
  await runTool('mount', ['-o', options, part, mnt], SLOW_TOOL_MS);
  try {
    return fn(mnt);
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
  }
}

before(async () => {
  const drive = await junkDrive('drive.img', 3);
  await runTool('sfdisk', ['-q', drive.device], { input: 'label: gpt\nstart=2048, size=655360, type=L\nstart=657408, size=796672, type=L\n' });
  const [part, xfsPart] = await announcePartitions(drive.device, 2);
  await runTool('mkfs.btrfs', ['-q', '-f', '-L', 'fedora-root', part as string], SLOW_TOOL_MS);
  expected = await withMount(part as string, 'rw', (mnt) => {
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(mnt, `data-${i}.bin`), noise(6 * MiB, 40 + i));
    fs.mkdirSync(path.join(mnt, 'etc'));
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(mnt, 'etc', `conf${i}`), `setting=${i}\n`.repeat(i + 1));
    fs.rmSync(path.join(mnt, 'data-1.bin'));
    fs.rmSync(path.join(mnt, 'data-3.bin'));
    return hashFiles(mnt);
  });
  assert.ok(expected.size > 200);
  await runTool('mkfs.xfs', ['-q', '-f', '-L', 'rhel-data', xfsPart as string], SLOW_TOOL_MS);
  expectedXfs = await withMount(xfsPart as string, 'rw', (mnt) => {
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(mnt, `db-${i}.bin`), noise(5 * MiB, 60 + i));
    fs.rmSync(path.join(mnt, 'db-2.bin'));
    return hashFiles(mnt);
  });
});

after(async () => {
  for (const d of drives) await removeLoopDevice(d);
  t.remove();
});

test('btrfs and xfs: only used blocks are stored, the restore onto junk checks clean with every file the same', async () => {
  const out = path.join(t.dir, 'drive.img.zst');
  const backup = await runCli(['backup', (drives[0] as LoopDevice).device, out, '--yes', '--json']);
  assert.equal(backup.code, 0, backup.stderr);
  const storage = (JSON.parse(fs.readFileSync(`${out}.json`, 'utf8')) as BackupMetadata).storage;
  assert.ok(storage && storage.mode === 'used-blocks');
  const p1 = storage.partitions.find((p) => p.number === 1);
  assert.equal(p1?.filesystem, 'btrfs');
  assert.ok(p1 && p1.stored === 'used-blocks', `partition 1: ${p1?.reason ?? ''}`);
  // 18 MiB of files in use: a few MiB of metadata beside them, never the 12 MiB deleted nor the ~330 MiB of junk.
  assert.ok(p1.storedBytes !== undefined && p1.storedBytes >= 18 * MiB && p1.storedBytes < 30 * MiB, `partition 1: stored ${p1.storedBytes} bytes`);

  const p2 = storage.partitions.find((p) => p.number === 2);
  assert.ok(p2 && p2.filesystem === 'xfs' && p2.stored === 'used-blocks', `partition 2: ${p2?.reason ?? ''}`);
  // 15 MiB of files, the log (the smallest mkfs.xfs makes is 64 MiB here, stored whole) and a few MiB of metadata: never the ~390 MiB free.
  assert.ok(p2.storedBytes !== undefined && p2.storedBytes < 120 * MiB, `partition 2: stored ${p2.storedBytes} bytes`);

  const ls = await runCli(['ls', out, '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /"filesystem":"btrfs","label":"fedora-root"/);
  assert.match(ls.stdout, /"filesystem":"xfs","label":"rhel-data"/);
  const listed = await runCli(['ls', out, '2:/', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.split('\n').filter((l) => l.startsWith('{"type":"entry"')).map((l) => (JSON.parse(l) as { name: string }).name).sort(), ['db-0.bin', 'db-1.bin', 'db-3.bin']);

  const target = await junkDrive('target.img', 99);
  const restore = await runCli(['restore', out, target.device, '--yes', '--json']);
  assert.equal(restore.code, 0, restore.stderr);
  const [part, xfsPart] = await announcePartitions(target.device, 2);
  const repair = await runTool('xfs_repair', ['-n', xfsPart as string], { allowFail: true, timeoutMs: SLOW_TOOL_MS });
  assert.equal(repair.code, 0, `xfs_repair -n on the restored partition:\n${repair.stdout}${repair.stderr}`);
  assert.deepEqual(await withMount(xfsPart as string, 'ro', (mnt) => hashFiles(mnt)), expectedXfs);
  const check = await runTool('btrfs', ['check', '--readonly', '--check-data-csum', part as string], { allowFail: true, timeoutMs: SLOW_TOOL_MS });
  assert.equal(check.code, 0, `btrfs check on the restored partition:\n${check.stdout}${check.stderr}`);
  assert.deepEqual(await withMount(part as string, 'ro', (mnt) => hashFiles(mnt)), expected);
});
