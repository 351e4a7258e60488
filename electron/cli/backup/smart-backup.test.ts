import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { BackupMetadata } from '../../../shared/backup-metadata';
import { announcePartitions, noise, tempDir, writeMixedFiles } from '../../engine/testing/test-drives';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';
import { hashTree } from './backup-folder-testing';

/**
 * Smart backups on a real drive: GPT with ext4, FAT32, a partition holding
 * no filesystem, swap, an ext4 whose superblock was damaged, and NTFS, on a loop
 * device that held random junk before it was partitioned (so free space is
 * not zeros), with files written and deleted. The backup must store less
 * than a sector-by-sector one, restore onto junk to filesystems that check
 * clean with every file intact, store the unknown and damaged partitions
 * byte for byte, and stay a standard image (`zstd -dc` gives a drive back).
 */

const MiB = 1 << 20;
const SIZE = 240 * MiB;
const SECTOR = 512;
const TABLE = [
  'label: gpt',
  'start=2048, size=131072, type=L',
  'start=133120, size=131072, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
  'start=264192, size=32768, type=L',
  'start=296960, size=16384, type=S',
  'start=313344, size=65536, type=L',
  'start=378880, size=98304, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
].join('\n');
const t = tempDir('smart');
let drive: LoopDevice | null = null;
const extra: LoopDevice[] = [];
let parts: string[] = [];
const expected: { ext: Map<string, string>; fat: Map<string, string>; ntfs: Map<string, string>; raw3: string; raw5: string } = { ext: new Map(), fat: new Map(), ntfs: new Map(), raw3: '', raw5: '' };

function fillWithJunk(device: string, size: number, seed: number): void {
  const fd = fs.openSync(device, 'w');
  try {
    for (let at = 0; at < size; at += 16 * MiB) fs.writeSync(fd, noise(Math.min(16 * MiB, size - at), seed + at / MiB), 0, Math.min(16 * MiB, size - at), at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}


async function sha256Of(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: MiB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function ntfsFiles(part: string): Promise<Map<string, string>> {
  const mnt = fs.mkdtempSync(path.join(t.dir, 'ntfs-'));
  await runTool('ntfs-3g', ['-o', 'ro', part, mnt], SLOW_TOOL_MS);
  try {
    return hashTree(mnt);
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
  }
}

async function extFiles(part: string): Promise<Map<string, string>> {
  const mnt = fs.mkdtempSync(path.join(t.dir, 'mnt-'));
  await runTool('mount', ['-o', 'ro', part, mnt]);
  try {
    return hashTree(mnt);
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
  }
}

async function fatFiles(part: string): Promise<Map<string, string>> {
  const dir = fs.mkdtempSync(path.join(t.dir, 'fat-out-'));
  await runTool('mcopy', ['-s', '-n', '-i', part, '::/*', dir], SLOW_TOOL_MS);
  return hashTree(dir);
}

before(async () => {
  drive = await createLoopDevice(SIZE, { file: path.join(t.dir, 'drive.img') });
  fillWithJunk(drive.device, SIZE, 7);
  await runTool('sfdisk', ['-q', drive.device], { input: TABLE });
  parts = await announcePartitions(drive.device, 6);
  const [p1, p2, , p4, p5, p6] = parts as [string, string, string, string, string, string];
  // ext4: files written, then some deleted, so free space holds old data as well as junk.
  await runTool('mkfs.ext4', ['-q', '-F', '-L', 'smart-ext4', p1], SLOW_TOOL_MS);
  const mnt = path.join(t.dir, 'mnt');
  fs.mkdirSync(mnt);
  await runTool('mount', [p1, mnt]);
  try {
    writeMixedFiles(mnt, 11);
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(mnt, `big-${i}.bin`), noise(4 * MiB, 100 + i));
    for (let i = 0; i < 6; i += 2) fs.rmSync(path.join(mnt, `big-${i}.bin`));
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
  }
  // FAT32 (one sector per cluster, so 64 MiB holds the 65525 clusters FAT32 needs).
  await runTool('mkfs.vfat', ['-F', '32', '-s', '1', '-n', 'SMARTFAT', p2], SLOW_TOOL_MS);
  const staging = path.join(t.dir, 'fat-in');
  writeMixedFiles(staging, 12);
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(staging, `n${i}.bin`), noise(3 * MiB, 200 + i));
  await runTool('mcopy', ['-s', '-i', p2, ...fs.readdirSync(staging).map((n) => path.join(staging, n)), '::/'], SLOW_TOOL_MS);
  await runTool('mdel', ['-i', p2, '::/n1.bin', '::/n3.bin'], SLOW_TOOL_MS);
  await runTool('mkswap', ['-q', p4], SLOW_TOOL_MS);
  // An ext4 that claims more blocks than its partition holds: its metadata does not check out.
  await runTool('mkfs.ext4', ['-q', '-F', p5], SLOW_TOOL_MS);
  const fd = fs.openSync(p5, 'r+');
  try {
    const count = Buffer.alloc(4);
    count.writeUInt32LE(1 << 30);
    fs.writeSync(fd, count, 0, 4, 1024 + 4);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  // NTFS, filled through ntfs-3g, some files deleted again.
  await runTool('mkntfs', ['-Q', '-F', '-q', '-L', 'SMARTNTFS', p6], SLOW_TOOL_MS);
  const ntfsMnt = path.join(t.dir, 'ntfs-in');
  fs.mkdirSync(ntfsMnt);
  await runTool('ntfs-3g', [p6, ntfsMnt], SLOW_TOOL_MS);
  try {
    writeMixedFiles(ntfsMnt, 13);
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(ntfsMnt, `w${i}.bin`), noise(4 * MiB, 300 + i));
    fs.rmSync(path.join(ntfsMnt, 'w0.bin'));
    fs.rmSync(path.join(ntfsMnt, 'w2.bin'));
  } finally {
    await runTool('umount', [ntfsMnt], SLOW_TOOL_MS);
  }
  expected.ntfs = await ntfsFiles(p6);
  expected.ext = await extFiles(p1);
  expected.fat = await fatFiles(p2);
  expected.raw3 = await sha256Of(parts[2] as string);
  expected.raw5 = await sha256Of(p5);
  assert.ok(expected.ext.size >= 5 && expected.fat.size >= 5, 'the filesystems hold files');
});

after(async () => {
  for (const d of [drive, ...extra]) await removeLoopDevice(d);
  t.remove();
});

async function target(size: number, seed: number): Promise<LoopDevice> {
  const d = await createLoopDevice(size, { file: path.join(t.dir, `target-${seed}.img`) });
  extra.push(d);
  fillWithJunk(d.device, size, seed);
  return d;
}

function metadataOf(file: string): BackupMetadata {
  return JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as BackupMetadata;
}

/** The restored drive's filesystems check clean and hold the same files; what was stored whole is byte for byte. */
async function checkRestored(device: string): Promise<void> {
  const [p1, p2, p3, p4, p5, p6] = await announcePartitions(device, 6);
  const ntfsfix = await runTool('ntfsfix', ['-n', p6 as string], { allowFail: true });
  assert.equal(ntfsfix.code, 0, `ntfsfix -n finds the restored NTFS clean: ${ntfsfix.stdout}`);
  assert.deepEqual(await ntfsFiles(p6 as string), expected.ntfs);
  assert.equal((await runTool('e2fsck', ['-fn', p1 as string], { allowFail: true })).code, 0, 'e2fsck finds the restored ext4 clean');
  const fsck = await runTool('fsck.vfat', ['-n', p2 as string], { allowFail: true });
  assert.equal(fsck.code, 0, `fsck.vfat finds the restored FAT32 clean: ${fsck.stdout}`);
  assert.deepEqual(await extFiles(p1 as string), expected.ext);
  assert.deepEqual(await fatFiles(p2 as string), expected.fat);
  assert.equal(await sha256Of(p3 as string), expected.raw3, 'the partition without a filesystem is restored byte for byte');
  assert.equal(await sha256Of(p5 as string), expected.raw5, 'the damaged ext4 is restored byte for byte');
  assert.match((await runTool('blkid', ['-o', 'value', '-s', 'TYPE', p4 as string])).stdout, /swap/);
}

const smartOut = (): string => path.join(t.dir, 'smart.img.zst');

test('a smart backup stores used blocks of ext4, FAT32 and swap, the rest whole with reasons, and much less than sector by sector', async () => {
  const d = drive as LoopDevice;
  const smart = await runCli(['backup', d.device, smartOut(), '--json']);
  assert.equal(smart.code, 0, smart.stderr + smart.stdout.slice(-2000));
  const whole = await runCli(['backup', d.device, path.join(t.dir, 'whole.img.zst'), '--sector-by-sector', '--json']);
  assert.equal(whole.code, 0, whole.stderr);
  const m = metadataOf(smartOut());
  const storage = m.storage;
  assert.ok(storage && storage.mode === 'used-blocks');
  const byNumber = new Map(storage.partitions.map((p) => [p.number, p]));
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => byNumber.get(n)?.stored), ['used-blocks', 'used-blocks', 'whole', 'used-blocks', 'whole', 'used-blocks']);
  assert.match(byNumber.get(3)?.reason ?? '', /no filesystem/);
  assert.match(byNumber.get(5)?.reason ?? '', /./);
  assert.ok(smart.events.some((e) => e.type === 'warning' && /partition 5/.test(e.message)), 'the user is told partition 5 is stored whole');
  // Stored: what the filesystems use plus everything whole; much less than the drive.
  assert.ok(storage.storedBytes < SIZE * 0.5, `stored ${storage.storedBytes} of ${SIZE}`);
  const smartSize = fs.statSync(smartOut()).size;
  const wholeSize = fs.statSync(path.join(t.dir, 'whole.img.zst')).size;
  assert.ok(smartSize < wholeSize * 0.7, `smart ${smartSize} bytes vs sector by sector ${wholeSize}`);
  assert.equal(metadataOf(path.join(t.dir, 'whole.img.zst')).storage?.mode, 'sector-by-sector');
  // Progress counts what is really read.
  const last = smart.events.filter((e) => e.type === 'progress' && e.phase === 'writing').pop();
  assert.ok(last && last.type === 'progress' && last.totalBytes === storage.storedBytes);
  const info = await runCli(['info', smartOut()]);
  assert.match(info.stdout, /used blocks only/);
  assert.match(info.stdout, /stored whole/);
});

test('restore of a smart backup onto a junk-filled drive: filesystems clean, files intact, free space left as it was', async () => {
  const dest = await target(SIZE, 31);
  const junkBefore = fs.readFileSync(dest.backingFile);
  const r = await runCli(['restore', smartOut(), dest.device, '--yes', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  assert.deepEqual(r.finished?.targets.map((x) => x.status), ['verified']);
  await checkRestored(dest.device);
  // A range the backup did not store still holds the target's old bytes.
  const m = metadataOf(smartOut());
  const stored = (m.storage as NonNullable<BackupMetadata['storage']>).ranges;
  const gap = stored.findIndex(([s, l], i) => (stored[i + 1]?.[0] ?? SIZE) - (s + l) >= 4096);
  const [s, l] = stored[gap] as [number, number];
  const after = Buffer.alloc(4096);
  const fd = fs.openSync(dest.device, 'r');
  fs.readSync(fd, after, 0, 4096, s + l);
  fs.closeSync(fd);
  assert.ok(after.equals(junkBefore.subarray(s + l, s + l + 4096)), 'free space keeps what the target held');
});

test('--wipe-free-space zeroes what the backup did not store', async () => {
  const dest = await target(SIZE, 41);
  const r = await runCli(['restore', smartOut(), dest.device, '--yes', '--wipe-free-space', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const m = metadataOf(smartOut());
  const stored = (m.storage as NonNullable<BackupMetadata['storage']>).ranges;
  const image = fs.readFileSync(dest.backingFile);
  let checked = 0;
  for (let i = 0; i + 1 < stored.length; i++) {
    const [s, l] = stored[i] as [number, number];
    const next = (stored[i + 1] as [number, number])[0];
    assert.ok(image.subarray(s + l, next).every((b) => b === 0), `bytes ${s + l}-${next} are zeros`);
    checked += next - s - l;
  }
  assert.ok(checked > SIZE / 4, `checked ${checked} bytes of free space`);
  await checkRestored(dest.device);
});

test('a smart backup stays a standard image: zstd -dc gives a drive with the same files', async () => {
  const raw = path.join(t.dir, 'decoded.img');
  await runTool('sh', ['-c', 'zstd -dc "$1" > "$2"', 'sh', smartOut(), raw], SLOW_TOOL_MS);
  assert.equal(fs.statSync(raw).size, SIZE);
  const loop = await createLoopDevice(SIZE, { file: raw, directIo: false });
  extra.push(loop);
  await checkRestored(loop.device);
});

test('restore onto a larger drive moves the GPT to its end, and sgdisk finds no problem', async () => {
  const dest = await target(SIZE + 56 * MiB, 51);
  const r = await runCli(['restore', smartOut(), dest.device, '--yes', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  assert.ok(r.events.some((e) => e.type === 'warning' && /backup GPT was moved/.test(e.message)), 'the user is told the GPT moved');
  const v = await runTool('sgdisk', ['-v', dest.device], { allowFail: true });
  assert.match(v.stdout, /No problems found/, v.stdout);
  const last = (SIZE + 56 * MiB) / SECTOR - 1;
  const header = Buffer.alloc(SECTOR);
  const fd = fs.openSync(dest.device, 'r');
  fs.readSync(fd, header, 0, SECTOR, last * SECTOR);
  fs.closeSync(fd);
  assert.equal(header.subarray(0, 8).toString('latin1'), 'EFI PART', 'the backup header sits in the last sector');
  await checkRestored(dest.device);
});

test('a smart backup whose recorded SHA-256 disagrees with its frames: each frame decodes, yet the restore fails before the partition table is written', async () => {
  const good = smartOut();
  const sha = metadataOf(good).sha256;
  const other = (sha[0] === '0' ? '1' : '0') + sha.slice(1);
  // The description inside the file (and beside it) names another SHA-256, of the same length: no frame changes.
  const bytes = fs.readFileSync(good);
  let found = 0;
  for (let at = bytes.indexOf(sha, 0, 'latin1'); at >= 0; at = bytes.indexOf(sha, at + 1, 'latin1')) {
    bytes.write(other, at, 'latin1');
    found++;
  }
  assert.ok(found > 0, 'the file describes itself');
  const bad = path.join(t.dir, 'described-wrong.img.zst');
  fs.writeFileSync(bad, bytes);
  fs.writeFileSync(`${bad}.json`, fs.readFileSync(`${good}.json`, 'utf8').replaceAll(sha, other));
  const dest = await target(SIZE, 61);
  const headOf = (): Buffer => {
    const b = Buffer.alloc(MiB);
    const fd = fs.openSync(dest.device, 'r');
    fs.readSync(fd, b, 0, MiB, 0);
    fs.closeSync(fd);
    return b;
  };
  const before = headOf();
  const r = await runCli(['restore', bad, dest.device, '--yes', '--json']);
  assert.equal(r.code, 1, r.stderr + r.stdout.slice(-2000));
  assert.equal(r.finished?.error?.code, 'E_CHECKSUM_MISMATCH', r.stdout.slice(-2000));
  assert.ok(headOf().equals(before), "the target's first MiB (its partition table) was not written");
});
