import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { detailsOf, type FolderBackupJobDetails } from '../../../shared/job-events';
import { tempDir } from '../../engine/testing/test-drives';
import { removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { withExfatMount } from '../../engine/disks/exfat/testing/exfat-images';
import { runCli, type CliResult } from '../testing/run-cli';
import { MiB, ext4Drive } from './backup-folder-testing';

/**
 * A backup folder on a disk that allocates in large units: a real exFAT
 * volume with 128 KiB clusters (what Windows gives disks over 32 GB),
 * mounted through exfat-fuse, where each ~64 KiB piece takes a whole
 * cluster. The backup warns, with the unit it measured, and reports what
 * its pieces take on that disk, which is what the disk itself counts; the
 * same backup into a folder on ext4 says nothing of the kind.
 */

const t = tempDir('bfolder-alloc');
let drive: LoopDevice | null = null;

before(async () => {
  // 40 MiB of random files: about 640 pieces of 64 KiB that do not compress.
  drive = await ext4Drive(t.dir, 'drive.img', 96 * MiB, 40 * MiB);
});

after(async () => {
  await removeLoopDevice(drive);
  t.remove();
});

async function backupInto(folder: string): Promise<{ run: CliResult; details: FolderBackupJobDetails; warnings: string[] }> {
  const run = await runCli(['backup', (drive as LoopDevice).device, '--into', folder, '--yes', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const details = run.finished && detailsOf(run.finished, 'folder-backup');
  assert.ok(details, 'the job reports the generation it added');
  const warnings = run.events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
  return { run, details, warnings };
}

/** What the files under `dir` take on their disk, as it counts them (st_blocks). */
function allocatedUnder(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? allocatedUnder(p) : fs.lstatSync(p).blocks * 512;
  }
  return total;
}

test('on exFAT with 128 KiB clusters the backup warns and reports the space its pieces take there', async () => {
  const image = path.join(t.dir, 'exfat.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 512 * MiB);
  await runTool('mkfs.exfat', ['-c', '128K', image], SLOW_TOOL_MS);
  await withExfatMount(image, false, async (mnt) => {
    const folder = path.join(mnt, 'backups');
    const { details, warnings } = await backupInto(folder);
    const said = warnings.filter((w) => /allocates space in units of 128 KiB/.test(w));
    assert.equal(said.length, 1, `one warning naming the measured unit: ${JSON.stringify(warnings)}`);
    assert.match(said[0] as string, /single-file backup/, 'it says what avoids the overhead');
    assert.ok(details.newDiskBytes !== undefined, 'the space on the disk is reported');
    // Each of the new pieces takes at least one whole cluster.
    assert.ok(details.newDiskBytes >= details.newPieces * 128 * 1024, `${details.newDiskBytes} for ${details.newPieces} pieces`);
    assert.ok(details.newDiskBytes >= 1.5 * details.newStoredBytes, `${details.newDiskBytes} on the disk for ${details.newStoredBytes} stored`);
    const counted = allocatedUnder(path.join(folder, 'pieces'));
    assert.ok(Math.abs(details.newDiskBytes - counted) <= 0.02 * counted, `reported ${details.newDiskBytes}, the disk counts ${counted} for the pieces`);
    // The human form says it beside the compressed size.
    const again = await runCli(['backup', (drive as LoopDevice).device, '--into', path.join(mnt, 'second'), '--yes']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout + again.stderr, /warning: The disk holding .* allocates space in units of 128 KiB/);
    assert.match(again.stdout + again.stderr, /compressed, about [\d.]+ [kMG]B on the folder's disk/);
  });
});

test('on ext4 (4 KiB blocks) no such warning, and the space on the disk is about the stored size', async () => {
  const { details, warnings } = await backupInto(path.join(t.dir, 'backups'));
  assert.deepEqual(
    warnings.filter((w) => /allocates space/.test(w)),
    [],
  );
  assert.ok(details.newDiskBytes !== undefined && details.newDiskBytes >= details.newStoredBytes, `${details.newDiskBytes} for ${details.newStoredBytes}`);
  assert.ok(details.newDiskBytes < 1.1 * details.newStoredBytes, `${details.newDiskBytes} for ${details.newStoredBytes}: 4 KiB blocks round up little`);
});
