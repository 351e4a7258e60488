import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { detailsOf } from '../../../shared/job-events';
import { announcePartitions, tempDir } from '../../engine/testing/test-drives';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { describe, runCli } from '../testing/run-cli';
import { MiB, extFiles, fatFiles, fillRandom, hashTree, randomFile, withMounted } from './backup-folder-testing';

/**
 * Issue 15's round trip on a real ext4 + FAT32 + NTFS drive (GPT, over
 * random junk), NTFS written by ntfs-3g: three generations, with files
 * added, deleted, overwritten in the middle and renamed on every
 * filesystem between them (in place in a large file on ext4 and NTFS;
 * mtools cannot write into a FAT file, so FAT gets the rest). Each
 * generation is restored onto a junk-filled drive: every file of every
 * partition has the hash it had when that generation was taken, and
 * e2fsck, fsck.vfat and ntfsfix find nothing to fix.
 */

const SIZE = 96 * MiB;
const TABLE = [
  'label: gpt',
  'start=2048, size=49152, type=L',
  'start=51200, size=81920, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
  'start=133120, size=49152, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
].join('\n');
const t = tempDir('bfntfs');
const folder = path.join(t.dir, 'backups');
let drive: LoopDevice | null = null;
let target: LoopDevice | null = null;
let parts: string[] = [];
type Files = { ext: Map<string, string>; fat: Map<string, string>; ntfs: Map<string, string> };
const gens: { files: Files; id: string }[] = [];

/** Runs `fn` with an NTFS partition mounted by ntfs-3g (read-only unless `rw`), then unmounts it. */
async function withNtfs<T>(part: string, rw: boolean, fn: (dir: string) => T): Promise<T> {
  const mnt = fs.mkdtempSync(path.join(t.dir, 'ntfs-'));
  await runTool('ntfs-3g', [...(rw ? [] : ['-o', 'ro']), part, mnt], SLOW_TOOL_MS);
  try {
    return fn(mnt);
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
    fs.rmdirSync(mnt);
  }
}

/** Rewrites `bytes` in the middle of a file, at an offset that is not block aligned. */
function overwriteMiddle(file: string, bytes: number, fill: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(bytes, fill), 0, bytes, Math.floor(fs.fstatSync(fd).size / 2) + 777);
  } finally {
    fs.closeSync(fd);
  }
}

async function snapshot(p: string[]): Promise<Files> {
  const [ext, fat, ntfs] = p as [string, string, string];
  return { ext: await extFiles(ext, t.dir), fat: await fatFiles(fat, t.dir), ntfs: await withNtfs(ntfs, false, (dir) => hashTree(dir)) };
}

async function fatCommands(...commands: string[][]): Promise<void> {
  for (const [cmd, ...args] of commands) await runTool(cmd as string, ['-i', parts[1] as string, ...args], SLOW_TOOL_MS);
}

async function backup(): Promise<void> {
  const files = await snapshot(parts);
  const run = await runCli(['backup', (drive as LoopDevice).device, '--into', folder, '--yes', '--json']);
  assert.equal(run.code, 0, describe(run));
  const details = run.finished && detailsOf(run.finished, 'folder-backup');
  assert.ok(details);
  // Junk in free space is not stored: each filesystem is read through its allocation map.
  assert.deepEqual(details.storage.partitions.map((x) => [x.filesystem, x.stored]), [['ext4', 'used-blocks'], ['fat32', 'used-blocks'], ['ntfs', 'used-blocks']]);
  gens.push({ files, id: details.generation });
}

before(async () => {
  drive = await createLoopDevice(SIZE, { file: path.join(t.dir, 'drive.img') });
  target = await createLoopDevice(SIZE, { file: path.join(t.dir, 'target.img') });
  fillRandom(drive.device, SIZE);
  await runTool('sfdisk', ['-q', drive.device], { timeoutMs: SLOW_TOOL_MS, input: TABLE });
  parts = await announcePartitions(drive.device, 3);
  await runTool('mkfs.ext4', ['-q', '-F', parts[0] as string], SLOW_TOOL_MS);
  await runTool('mkfs.vfat', ['-F', '32', '-s', '1', parts[1] as string], SLOW_TOOL_MS);
  await runTool('mkntfs', ['-Q', '-F', '-q', '-L', 'ROUNDTRIP', parts[2] as string], SLOW_TOOL_MS);
  await withMounted(parts[0] as string, t.dir, (dir) => {
    randomFile(path.join(dir, 'big.bin'), 8 * MiB);
    randomFile(path.join(dir, 'gone.bin'), MiB);
    randomFile(path.join(dir, 'docs', 'a.bin'), 200 << 10);
  });
  const staging = path.join(t.dir, 'staging');
  randomFile(path.join(staging, 'photo.jpg'), 3 * MiB);
  randomFile(path.join(staging, 'old.dat'), MiB);
  await fatCommands(['mcopy', path.join(staging, 'photo.jpg'), path.join(staging, 'old.dat'), '::/']);
  await withNtfs(parts[2] as string, true, (dir) => {
    randomFile(path.join(dir, 'video.bin'), 8 * MiB);
    randomFile(path.join(dir, 'Old Report.bin'), MiB);
    randomFile(path.join(dir, 'Projects', 'plan.bin'), 300 << 10);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, 'Projects', `note ${i}.txt`), `note ${i}\n`.repeat(100 + i));
  });
});

after(async () => {
  await removeLoopDevice(drive);
  await removeLoopDevice(target);
  t.remove();
});

test('three generations of an ext4 + FAT32 + NTFS drive, files changed on each filesystem between them', async () => {
  await backup();
  const staging = path.join(t.dir, 'staging');
  for (const round of [1, 2]) {
    await withMounted(parts[0] as string, t.dir, (dir) => {
      randomFile(path.join(dir, `added-${round}.bin`), MiB);
      fs.rmSync(path.join(dir, round === 1 ? 'gone.bin' : 'added-1.bin'));
      overwriteMiddle(path.join(dir, 'big.bin'), 300 << 10, 0x40 + round);
      fs.renameSync(path.join(dir, round === 1 ? 'docs' : 'papers'), path.join(dir, round === 1 ? 'papers' : 'archive'));
    });
    randomFile(path.join(staging, `new-${round}.dat`), 512 << 10);
    await fatCommands(['mcopy', path.join(staging, `new-${round}.dat`), '::/'], ['mdel', round === 1 ? '::/old.dat' : '::/new-1.dat'], ['mren', round === 1 ? '::/photo.jpg' : '::/picture.jpg', round === 1 ? '::/picture.jpg' : '::/image.jpg']);
    await withNtfs(parts[2] as string, true, (dir) => {
      randomFile(path.join(dir, `added ${round}.bin`), MiB);
      fs.rmSync(path.join(dir, round === 1 ? 'Old Report.bin' : 'added 1.bin'));
      overwriteMiddle(path.join(dir, 'video.bin'), 300 << 10, 0x60 + round);
      fs.renameSync(path.join(dir, round === 1 ? 'Projects' : 'Work'), path.join(dir, round === 1 ? 'Work' : 'Done'));
      fs.appendFileSync(path.join(dir, round === 1 ? 'Work' : 'Done', 'note 3.txt'), `edited in round ${round}\n`);
    });
    await backup();
  }
  // Each round changed every filesystem: no two generations have the same files on any of them.
  for (const fsName of ['ext', 'fat', 'ntfs'] as const) {
    const [a, b, c] = gens.map((g) => JSON.stringify([...g.files[fsName]]));
    assert.ok(a !== b && b !== c, `${fsName} changed in each round`);
  }
  assert.ok([...(gens[2]?.files.ntfs.keys() ?? [])].includes(path.join('Done', 'plan.bin')), 'the renamed NTFS folder is listed under its new name');
});

test('every generation restores onto a junk-filled drive with each file as it was, every filesystem checking clean', async () => {
  assert.equal(gens.length, 3, 'the previous test made three generations');
  const tgt = target as LoopDevice;
  for (const [i, g] of gens.entries()) {
    fillRandom(tgt.device, SIZE);
    const run = await runCli(['restore', `${folder}#${g.id}`, tgt.device, '--yes', '--json']);
    assert.equal(run.code, 0, `generation ${i + 1}: ${describe(run)}`);
    assert.equal(run.finished?.targets[0]?.status, 'verified');
    const p = await announcePartitions(tgt.device, 3);
    const [ext, fat, ntfs] = p as [string, string, string];
    assert.equal((await runTool('e2fsck', ['-fn', ext], { timeoutMs: SLOW_TOOL_MS, allowFail: true })).code, 0, `ext4 of generation ${i + 1} checks clean`);
    assert.equal((await runTool('fsck.vfat', ['-n', fat], { timeoutMs: SLOW_TOOL_MS, allowFail: true })).code, 0, `FAT of generation ${i + 1} checks clean`);
    const ntfsfix = await runTool('ntfsfix', ['-n', ntfs], { timeoutMs: SLOW_TOOL_MS, allowFail: true });
    assert.equal(ntfsfix.code, 0, `NTFS of generation ${i + 1} checks clean: ${ntfsfix.stdout}${ntfsfix.stderr}`);
    assert.deepEqual(await snapshot(p), g.files, `files of generation ${i + 1}`);
    await runTool('partx', ['-d', tgt.device], { timeoutMs: SLOW_TOOL_MS, allowFail: true });
  }
});
