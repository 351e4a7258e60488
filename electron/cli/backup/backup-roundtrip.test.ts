import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { BackupCompression } from '../../../shared/backup-metadata';
import { detailsOf, type ProgressEvent } from '../../../shared/job-events';
import { inspectSource } from '../../engine/formats/image-source';
import { makeExt4Drive, makeFat32Drive, noise, sameBytes, tempDir } from '../../engine/testing/test-drives';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';

/**
 * The round trip on real filesystems: an ext4 drive (MBR) and a FAT32 drive
 * (GPT) on loop devices, backed up in each format by `imprint backup`,
 * restored onto another loop device by `imprint restore` and by the format's
 * own tool, and compared byte for byte with the original each time.
 */

/** 40 MiB: enough for a real FAT32 (65525 clusters of one sector) and small enough to be quick. */
const SIZE = 40 << 20;
const t = tempDir('roundtrip');
let ext4: LoopDevice | null = null;
let fat: LoopDevice | null = null;
let target: LoopDevice | null = null;

before(async () => {
  ext4 = await makeExt4Drive(path.join(t.dir, 'ext4.img'), SIZE, path.join(t.dir, 'mnt'));
  fat = await makeFat32Drive(path.join(t.dir, 'fat.img'), SIZE, path.join(t.dir, 'fat-files'));
  target = await createLoopDevice(SIZE, { file: path.join(t.dir, 'target.img') });
});

after(async () => {
  for (const d of [ext4, fat, target]) await removeLoopDevice(d);
  t.remove();
});

async function sha256Of(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Fills the target with noise, so a restore that writes nothing cannot pass. */
function scramble(device: string): void {
  const fd = fs.openSync(device, 'w');
  try {
    fs.writeSync(fd, noise(SIZE, Date.now() & 0xffff), 0, SIZE, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const TOOL_RESTORE: Record<Exclude<BackupCompression, 'none'>, string> = {
  zstd: 'zstd -dc "$1" | dd of="$2" bs=4M oflag=direct status=none',
  gzip: 'gzip -dc "$1" | dd of="$2" bs=4M oflag=direct status=none',
  xz: 'xz -dc "$1" | dd of="$2" bs=4M oflag=direct status=none',
};

const drives = (): [string, LoopDevice][] => [
  ['ext4', ext4 as LoopDevice],
  ['FAT32', fat as LoopDevice],
];

for (const name of ['ext4', 'FAT32']) {
  for (const compression of ['zstd', 'gzip', 'xz', 'none'] as BackupCompression[]) {
    test(`${name} drive, ${compression}: sector-by-sector backup, then restore with imprint and with the standard tool, byte for byte; a smart backup restores onto zeros byte for byte too`, async () => {
      const drive = (drives().find(([n]) => n === name) as [string, LoopDevice])[1];
      const dest = target as LoopDevice;
      const out = path.join(t.dir, `${name}-${compression}.img`);
      const expectedSha = await sha256Of(drive.device);

      // xz at its default level is slow on noise; level 1 keeps the test short and exercises --level.
      const levelArgs = compression === 'xz' ? ['--level', '1'] : [];
      // Sector by sector: every byte is stored, so a restore onto noise gives the drive back byte for byte.
      const backup = await runCli(['backup', drive.device, out, '--compress', compression, ...levelArgs, '--sector-by-sector', '--json']);
      assert.equal(backup.code, 0, backup.stderr + backup.stdout.slice(-2000));
      assert.equal(backup.events[0]?.type === 'job-started' && backup.events[0].kind, 'backup');
      const fin = backup.finished;
      assert.ok(fin?.ok);
      assert.equal(detailsOf(fin, 'backup')?.sha256, expectedSha);
      assert.equal(fin.digests?.sha256, expectedSha);
      assert.equal(detailsOf(fin, 'backup')?.size, SIZE);
      const ratios = backup.events.filter((e): e is ProgressEvent => e.type === 'progress' && e.phase === 'writing' && e.compressionRatio !== undefined);
      assert.ok(ratios.length > 0, 'progress carries the compression ratio');
      assert.ok(fs.existsSync(out) && fs.existsSync(`${out}.json`));
      assert.deepEqual(fs.readdirSync(t.dir).filter((f) => f.endsWith('.imprint-partial')), []);
      const st = fs.statSync(out);
      if (compression === 'none') {
        assert.equal(st.size, SIZE);
        assert.ok(st.blocks * 512 < SIZE / 2, `a raw backup is sparse (${st.blocks * 512} bytes allocated)`);
      } else {
        assert.ok(st.size < SIZE / 2, `compressed to ${st.size}`);
        assert.equal(detailsOf(fin, 'backup')?.outputBytes, st.size);
        // zstd: free space is written as ready-made zero frames between data frames that do
        // not declare their sizes; the size must still be known before flashing the file.
        if (compression !== 'gzip') assert.equal((await inspectSource(out)).size, SIZE, 'the image size is known up front');
      }
      const sidecar = JSON.parse(fs.readFileSync(`${out}.json`, 'utf8')) as { sha256: string; size: number; compression: string };
      assert.deepEqual([sidecar.sha256, sidecar.size, sidecar.compression], [expectedSha, SIZE, compression]);

      scramble(dest.device);
      const restore = await runCli(['restore', out, dest.device, '--yes', '--json']);
      assert.equal(restore.code, 0, restore.stderr + restore.stdout.slice(-2000));
      assert.equal(restore.events[0]?.type === 'job-started' && restore.events[0].kind, 'restore');
      assert.deepEqual(restore.finished?.targets.map((x) => x.status), ['verified']);
      assert.ok(await sameBytes(drive.device, dest.device), 'imprint restore gives back the drive byte for byte');

      scramble(dest.device);
      const script = compression === 'none' ? 'dd if="$1" of="$2" bs=4M oflag=direct status=none' : TOOL_RESTORE[compression];
      await runTool('sh', ['-c', script, 'sh', out, dest.device], SLOW_TOOL_MS);
      assert.ok(await sameBytes(drive.device, dest.device), `the standard tool restores the ${compression} backup byte for byte`);

      // A smart backup of these freshly made filesystems (free space never written: zeros)
      // restored onto a zeroed drive gives the same bytes: what it left out was zeros.
      const smartOut = path.join(t.dir, `${name}-${compression}-smart.img`);
      const smart = await runCli(['backup', drive.device, smartOut, '--compress', compression, ...levelArgs, '--json']);
      assert.equal(smart.code, 0, smart.stderr + smart.stdout.slice(-2000));
      assert.equal((smart.finished?.details?.kind === 'backup' ? smart.finished.details.storage?.mode : undefined), 'used-blocks');
      await runTool('blkdiscard', ['-z', dest.device], SLOW_TOOL_MS);
      const smartRestore = await runCli(['restore', smartOut, dest.device, '--yes', '--json']);
      assert.equal(smartRestore.code, 0, smartRestore.stderr + smartRestore.stdout.slice(-2000));
      assert.deepEqual(smartRestore.finished?.targets.map((x) => x.status), ['verified']);
      assert.ok(await sameBytes(drive.device, dest.device), `the smart ${compression} backup restores onto zeros byte for byte`);
    });
  }
}

test('info reports the partitions and filesystems blkid and sfdisk see on the drives', async () => {
  for (const [name, drive] of drives()) {
    const expected = JSON.parse((await runTool('sfdisk', ['--json', drive.device])).stdout) as { partitiontable: { label: string; partitions: { start: number; size: number }[] } };
    const info = await runCli(['info', drive.device, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const report = JSON.parse(info.stdout) as { layout: { partitionTable: { type: string; partitions: { start: number; size: number; filesystem: { type: string; label: string } | null }[] } } };
    const table = report.layout.partitionTable;
    assert.equal(table.type, expected.partitiontable.label === 'dos' ? 'mbr' : 'gpt', name);
    assert.deepEqual(
      table.partitions.map((p) => [p.start, p.size]),
      expected.partitiontable.partitions.map((p) => [p.start * 512, p.size * 512]),
    );
    const fsType = name === 'ext4' ? ['ext4', 'imprint-ext4'] : ['vfat', 'IMPRINTFAT'];
    assert.deepEqual([table.partitions[0]?.filesystem?.type, table.partitions[0]?.filesystem?.label], fsType);
  }
});

test('info finds the same layout in plain images (raw, and compressed by gzip, xz, zstd without any metadata) by reading their content', async () => {
  const drive = ext4 as LoopDevice;
  const raw = path.join(t.dir, 'plain.img');
  await runTool('dd', [`if=${drive.device}`, `of=${raw}`, 'bs=4M', 'status=none'], SLOW_TOOL_MS);
  const onDrive = JSON.parse((await runCli(['info', drive.device, '--json'])).stdout) as { layout: unknown };
  for (const [cmd, ext] of [['gzip', 'gz'], ['xz', 'xz'], ['zstd', 'zst'], [null, null]] as const) {
    let file = raw;
    if (cmd) {
      await runTool(cmd, ['-q', '-k', '-1', '-f', raw]);
      file = `${raw}.${ext}`;
    }
    const info = await runCli(['info', file, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const report = JSON.parse(info.stdout) as { layout: unknown; layoutFrom: string; backup: unknown; size: number | null };
    assert.equal(report.backup, null, `${file} is not a backup`);
    assert.equal(report.layoutFrom, 'read');
    assert.deepEqual(report.layout, onDrive.layout, `${cmd ?? 'raw'}: same partitions and filesystems as the drive`);
  }
});
