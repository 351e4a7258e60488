import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { detailsOf, type FolderBackupJobDetails } from '../../../shared/job-events';
import { announcePartitions, tempDir } from '../../engine/testing/test-drives';
import { createLoopDevice, readDirect, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { readGeneration } from '../../engine/formats/backup-folder/generation-index';
import { runCli } from '../testing/run-cli';
import { MiB, extFiles, fatFiles, fillRandom, randomFile, withMounted } from './backup-folder-testing';

/**
 * Backup folders end to end, through the `imprint` command: a GPT drive
 * (over random junk) with ext4 and FAT32, backed up into a folder, changed
 * (files added, deleted, overwritten in the middle, renamed), backed up
 * again, and once more unchanged. The second generation stores only new
 * pieces, the third none; every generation restores onto a junk-filled drive
 * with each file as it was then, fsck clean. Then one piece is damaged and
 * another deleted: verify names exactly the generations that need them, and
 * restoring such a generation fails without a "verified" drive.
 */

const SIZE = 96 * MiB;
const TABLE = ['label: gpt', 'start=2048, size=98304, type=L', 'start=100352, size=90112, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7'].join('\n');
const t = tempDir('bfolder');
const folder = path.join(t.dir, 'backups');
let drive: LoopDevice | null = null;
let target: LoopDevice | null = null;
let parts: string[] = [];
/** Per generation: the files of each partition when it was taken, and what the backup reported. */
const gens: { ext: Map<string, string>; fat: Map<string, string>; details: FolderBackupJobDetails }[] = [];

async function snapshot(): Promise<{ ext: Map<string, string>; fat: Map<string, string> }> {
  return { ext: await extFiles(parts[0] as string, t.dir), fat: await fatFiles(parts[1] as string, t.dir) };
}

async function backupGeneration(): Promise<void> {
  const files = await snapshot();
  const run = await runCli(['backup', (drive as LoopDevice).device, '--into', folder, '--yes', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const details = run.finished && detailsOf(run.finished, 'folder-backup');
  assert.ok(details, 'the job reports the generation it added');
  gens.push({ ...files, details });
}

before(async () => {
  drive = await createLoopDevice(SIZE, { file: path.join(t.dir, 'drive.img') });
  target = await createLoopDevice(SIZE, { file: path.join(t.dir, 'target.img') });
  fillRandom(drive.device, SIZE);
  await runTool('sfdisk', ['-q', drive.device], { timeoutMs: SLOW_TOOL_MS, input: TABLE });
  parts = await announcePartitions(drive.device, 2);
  await runTool('mkfs.ext4', ['-q', '-F', parts[0] as string], SLOW_TOOL_MS);
  await runTool('mkfs.vfat', ['-F', '32', '-s', '1', parts[1] as string], SLOW_TOOL_MS);
  await withMounted(parts[0] as string, t.dir, (dir) => {
    randomFile(path.join(dir, 'big.bin'), 12 * MiB);
    randomFile(path.join(dir, 'gone.bin'), 3 * MiB);
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(dir, `note${i}.txt`), `note ${i}\n`.repeat(500 + i));
    randomFile(path.join(dir, 'docs', 'a.bin'), 300 << 10);
  });
  const staging = path.join(t.dir, 'staging');
  randomFile(path.join(staging, 'photo.jpg'), 4 * MiB);
  randomFile(path.join(staging, 'old.dat'), MiB);
  await runTool('mcopy', ['-s', '-i', parts[1] as string, path.join(staging, 'photo.jpg'), path.join(staging, 'old.dat'), '::/'], SLOW_TOOL_MS);
});

after(async () => {
  await removeLoopDevice(drive);
  await removeLoopDevice(target);
  t.remove();
});

test('first backup stores the used data; the folder is what the format says', async () => {
  await backupGeneration();
  const g = (gens[0] as (typeof gens)[number]).details;
  assert.equal(g.number, 1);
  // Everything in use is new to an empty folder, except what repeats inside the drive (zero blocks...).
  assert.ok(g.newBytes <= g.storedBytes && g.newBytes >= 16 * MiB, `${g.newBytes} new of ${g.storedBytes}`);
  assert.ok(g.storedBytes < SIZE / 2, 'free space (random junk) is not stored');
  assert.deepEqual(fs.readdirSync(folder).sort(), ['generations', 'imprint-backup-folder.json', 'pieces', 'tmp']);
  assert.deepEqual(fs.readdirSync(path.join(folder, 'tmp')), [], 'nothing temporary is left');
});

test('after file changes, a second backup stores only new pieces; an unchanged drive adds none', async () => {
  await withMounted(parts[0] as string, t.dir, (dir) => {
    randomFile(path.join(dir, 'added.bin'), 2 * MiB);
    fs.rmSync(path.join(dir, 'gone.bin'));
    const fd = fs.openSync(path.join(dir, 'big.bin'), 'r+');
    fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, 6 * MiB + 777);
    fs.closeSync(fd);
    fs.renameSync(path.join(dir, 'docs'), path.join(dir, 'papers'));
  });
  const staging = path.join(t.dir, 'staging');
  randomFile(path.join(staging, 'new.dat'), MiB);
  await runTool('mcopy', ['-i', parts[1] as string, path.join(staging, 'new.dat'), '::/'], SLOW_TOOL_MS);
  await runTool('mdel', ['-i', parts[1] as string, '::/old.dat'], SLOW_TOOL_MS);
  await backupGeneration();
  const [g1, g2] = gens.map((g) => g.details) as [FolderBackupJobDetails, FolderBackupJobDetails];
  // 3 MiB of new random files cannot be stored in less; the unchanged files (most of the drive) must not be
  // stored again. What else is new is filesystem metadata: bitmaps, inode tables, the ext4 journal (up to 4 MiB here).
  assert.ok(g2.newBytes >= 3 * MiB, `${g2.newBytes} new bytes`);
  assert.ok(g2.newBytes < g2.storedBytes / 2, `second backup stored ${g2.newBytes} new bytes of ${g2.storedBytes} (the first: ${g1.newBytes})`);
  assert.ok(g2.newStoredBytes < g2.newBytes + 64 * 1024, 'new pieces are compressed (random data barely grows)');
  await backupGeneration();
  const g3 = (gens[2] as (typeof gens)[number]).details;
  assert.equal(g3.newPieces, 0, 'an unchanged drive adds no piece');
  assert.equal(g3.sha256, g2.sha256, 'and the same stored data');
  const list = await runCli(['backups', 'list', folder, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const rows = (JSON.parse(list.stdout) as { generations: { number: number; id: string; addedBytes: number; sha256: string; device: string }[] }).generations;
  assert.deepEqual(rows.map((r) => [r.number, r.id, r.addedBytes, r.sha256]), gens.map((g, i) => [i + 1, g.details.generation, g.details.newBytes, g.details.sha256]));
  const human = await runCli(['backups', 'list', folder]);
  assert.match(human.stdout, new RegExp(`  2  ${g2.generation}`));
});

test('every generation restores onto a junk-filled drive with its files as they were, fsck clean', async () => {
  const tgt = target as LoopDevice;
  for (const [i, g] of gens.entries()) {
    fillRandom(tgt.device, SIZE);
    const ref = i === 1 ? `${folder}#${g.details.generation}` : `${folder}#${i + 1}`;
    const run = await runCli(['restore', ref, tgt.device, '--yes', '--json']);
    assert.equal(run.code, 0, `generation ${i + 1}: ${run.stderr}`);
    assert.equal(run.finished?.targets[0]?.status, 'verified');
    const [p1, p2] = await announcePartitions(tgt.device, 2);
    assert.equal((await runTool('e2fsck', ['-fn', p1 as string], { timeoutMs: SLOW_TOOL_MS, allowFail: true })).code, 0, `ext4 of generation ${i + 1} checks clean`);
    assert.equal((await runTool('fsck.vfat', ['-n', p2 as string], { timeoutMs: SLOW_TOOL_MS, allowFail: true })).code, 0, `FAT of generation ${i + 1} checks clean`);
    assert.deepEqual(await extFiles(p1 as string, t.dir), g.ext, `ext4 files of generation ${i + 1}`);
    assert.deepEqual(await fatFiles(p2 as string, t.dir), g.fat, `FAT files of generation ${i + 1}`);
    await runTool('partx', ['-d', tgt.device], { timeoutMs: SLOW_TOOL_MS, allowFail: true });
  }
  // Without #GEN: the latest.
  const latest = await runCli(['restore', folder, path.join(t.dir, 'latest.img'), '--yes', '--json']);
  assert.equal(latest.code, 0, latest.stderr);
  assert.match((latest.finished?.details as { backup?: string }).backup ?? '', new RegExp(`#${(gens[2] as (typeof gens)[number]).details.generation}$`));
  fs.rmSync(path.join(t.dir, 'latest.img'));
});

test('a generation whose recorded CRC-32s disagree with its pieces: the restore fails before the partition table is written, with read-back or without', async () => {
  // A copy: the folder's own generations stay as they are for the tests after this one.
  const copy = path.join(t.dir, 'crc-mismatch');
  fs.cpSync(folder, copy, { recursive: true });
  const id = (gens[0] as (typeof gens)[number]).details.generation;
  const file = path.join(copy, 'generations', `${id}.json`);
  const index = JSON.parse(fs.readFileSync(file, 'utf8')) as { metadata: { storage: { chunkSize: number; ranges: [number, number][]; chunkCrc32: string } } };
  const storage = index.metadata.storage;
  const crcs = Buffer.from(storage.chunkCrc32, 'base64');
  // Every piece keeps its name and content: only the record of one chunk (not the first, the partition table's) changes.
  const chunk = Math.floor((storage.ranges[storage.ranges.length - 1] as [number, number])[0] / storage.chunkSize);
  assert.ok(chunk > 0);
  crcs.writeUInt32LE((crcs.readUInt32LE(chunk * 4) ^ 1) >>> 0, chunk * 4);
  storage.chunkCrc32 = crcs.toString('base64');
  fs.writeFileSync(file, JSON.stringify(index));
  const tgt = target as LoopDevice;
  // What the drive holds (O_DIRECT), not what the page cache kept of it.
  const head = (): Buffer => readDirect(tgt.device, 0, MiB);
  // With read-back (the default) the written chunks are read back against the record before the head; without, each is checked as decoded.
  for (const [extra, code] of [[[], 'E_VERIFY_MISMATCH'], [['--no-verify'], 'E_CORRUPT_SOURCE']] as const) {
    fillRandom(tgt.device, SIZE);
    const before = head();
    const r = await runCli(['restore', `${copy}#1`, tgt.device, '--yes', '--json', ...extra]);
    assert.equal(r.code, 1, r.stdout.slice(-1500));
    assert.equal(r.finished?.error?.code, code, r.stdout.slice(-1500));
    assert.ok(head().equals(before), `${code}: the target's first MiB (its partition table) was not written`);
  }
  fs.rmSync(copy, { recursive: true, force: true });
});

test('verify names exactly the generations a damaged or missing piece affects; their restore fails', async () => {
  const ok = await runCli(['backups', 'verify', folder, '--json']);
  assert.equal(ok.code, 0, ok.stdout);
  // Read as Imprint reads an index (a schema 2 index stores only the names; this spells out the pieces).
  const idx = (n: number): [number, number, string][] => [...readGeneration(folder, (gens[n] as (typeof gens)[number]).details.generation).pieces];
  const [p1, p2, p3] = [idx(0), idx(1), idx(2)];
  const in2 = new Set(p2.map((p) => p[2]));
  const onlyFirst = p1.find((p) => !in2.has(p[2]));
  const shared = p1.find((p) => in2.has(p[2]) && p3.some((q) => q[2] === p[2]) && p.some(() => true));
  assert.ok(onlyFirst && shared, 'the first generation has a piece of its own and one shared by all');
  const file = (h: string): string => path.join(folder, 'pieces', h.slice(0, 2), `${h}.zst`);
  const bytes = fs.readFileSync(file(onlyFirst[2]));
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 9) ^ 0x40, bytes.length - 9);
  fs.writeFileSync(file(onlyFirst[2]), bytes);
  const bad = await runCli(['backups', 'verify', folder, '--json']);
  assert.equal(bad.code, 1);
  const report = JSON.parse(bad.stdout) as { unrestorable: { number: number }[]; problems: { hash: string; problem: string; affects: { number: number; ranges: [number, number][] }[] }[] };
  assert.deepEqual(report.unrestorable.map((g) => g.number), [1]);
  assert.deepEqual(report.problems.map((p) => [p.hash, p.problem, p.affects.map((a) => a.number)]), [[onlyFirst[2], 'damaged', [1]]]);
  assert.deepEqual(report.problems[0]?.affects[0]?.ranges, p1.filter((p) => p[2] === onlyFirst[2]).map((p) => [p[0], p[1]]));
  fs.rmSync(file(shared[2]));
  const worse = await runCli(['backups', 'verify', folder, '--json']);
  const report2 = JSON.parse(worse.stdout) as typeof report;
  assert.deepEqual(report2.unrestorable.map((g) => g.number), [1, 2, 3]);
  assert.deepEqual(report2.problems.find((p) => p.hash === shared[2])?.problem, 'missing');
  const human = await runCli(['backups', 'verify', folder]);
  assert.match(human.stdout, /NOT restorable: generation 1 .*generation 2 .*generation 3/);
  // Its progress, for people, on stderr: off a terminal, one closing line for the phase (with --json, stdout holds the one report above).
  assert.match(human.stderr, /^verifying\s+\S+ \S*B in \d+\.\d s/m, human.stderr);
  const restore = await runCli(['restore', `${folder}#1`, (target as LoopDevice).device, '--yes', '--json']);
  assert.equal(restore.code, 1);
  assert.equal(restore.finished?.error?.code, 'E_CORRUPT_SOURCE');
  assert.match(restore.finished?.error?.message ?? '', /partition table was not written/);
  assert.notEqual(restore.finished?.targets[0]?.status, 'verified');
});
