import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupDetails } from '../../shared/ipc-contract';
import { backupOutcome } from '../backup/backup-outcome';
import { createAppStore } from './app-store';
import { backupBlocker, suggestedName, withExtension } from './backup-slice';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import type { BackupJobDetails } from '../../shared/job-events';
import { createFakeApi } from './fake-api';

test('compression changes the extension of a path that has one of ours, and only then', () => {
  assert.equal(withExtension('/b/sd.img.zst', 'gzip'), '/b/sd.img.gz');
  assert.equal(withExtension('/b/sd.img.gz', 'none'), '/b/sd.img');
  assert.equal(withExtension('/b/sd.img', 'xz'), '/b/sd.img.xz');
  assert.equal(withExtension('/b/my-backup', 'xz'), '/b/my-backup');
  assert.equal(suggestedName('/dev/sdb', 'zstd', new Date('2025-03-04T10:00:00Z')), 'sdb-2025-03-04.img.zst');
});

test('backup: needs a drive and a path; a drive that holds the destination is refused; start sends the choices', async () => {
  const api = createFakeApi();
  const store = createAppStore(api);
  const s = () => store.getState();
  s().drivesChanged([fakeDrive({ device: '/dev/sdb', mountpoints: ['/media/stick'] }), fakeDrive({ device: '/dev/sdc' })]);
  assert.match(backupBlocker(s()) ?? '', /drive/);
  s().backupSourceChosen('/dev/sdb');
  s().backupPathTyped('/media/stick/backup.img.zst');
  assert.equal(s().backup.source, null, 'the drive that would hold the backup is unchosen');
  s().backupSourceChosen('/dev/sdb');
  assert.equal(s().backup.source, null);
  s().backupPathTyped('/home/me/sdb.img.zst');
  s().backupSourceChosen('/dev/sdb');
  s().compressionChosen('gzip');
  assert.equal(s().backup.pathInput, '/home/me/sdb.img.gz');
  assert.equal(backupBlocker(s()), null);
  api.answer('startBackup', { ok: true, value: { jobId: 'b1' } });
  await s().backupRequested();
  assert.deepEqual(api.calls.find((c) => c.name === 'startBackup')?.request, { device: '/dev/sdb', output: '/home/me/sdb.img.gz', compression: 'gzip', force: false, sectorBySector: false });
  assert.equal(s().backup.job.jobId, 'b1');
});

test('backup result: file, size and ratio read from job-finished; the ratio computed when only sizes are given', () => {
  const o = backupOutcome({ type: 'job-finished', jobId: 'b', ok: true, bytes: 1000, targets: [], digests: { sha256: 'ab' }, details: { kind: 'backup', output: '/x.img.zst', outputBytes: 250 } as BackupJobDetails }, '/typed');
  assert.deepEqual(o, { file: '/x.img.zst', fileSize: 250, ratio: 0.25, sha256: 'ab' });
});

test('restore: the backup is inspected first; a target smaller than the recorded drive is refused; confirm sends verify', async () => {
  const api = createFakeApi();
  const details: BackupDetails = {
    path: '/b/sd.img.zst', name: 'sd.img.zst', format: 'zstd', formatLabel: 'zstd', fileSize: 1e8, size: null, partitionTable: 'gpt',
    sha256: 'cd', sourceModel: 'SanDisk', sourceSerial: null, sourceSize: 4e9, createdAt: '2025-01-01T00:00:00Z', imprintVersion: '0.1.0',
  };
  api.answer('inspectBackup', { ok: true, value: details });
  api.answer('startRestore', { ok: true, value: { jobId: 'r1' } });
  const store = createAppStore(api);
  const s = () => store.getState();
  s().drivesChanged([fakeDrive({ device: '/dev/sdb', size: 2e9 }), fakeDrive({ device: '/dev/sdc', size: 8e9 })]);
  s().restoreTargetToggled('/dev/sdb');
  assert.deepEqual(s().restore.selected, ['/dev/sdb'], 'before a backup is known nothing is too small');
  s().restorePathTyped('/b/sd.img.zst');
  await s().restorePathSubmitted();
  assert.equal(s().restore.details?.sourceModel, 'SanDisk');
  assert.deepEqual(s().restore.selected, [], 'the 2 GB drive cannot hold the 4 GB backup');
  s().restoreTargetToggled('/dev/sdb');
  s().restoreTargetToggled('/dev/sdc');
  s().restoreRequested();
  assert.equal(s().restore.confirming, true);
  await s().restoreConfirmed();
  assert.deepEqual(api.calls.find((c) => c.name === 'startRestore')?.request, { backup: '/b/sd.img.zst', targets: ['/dev/sdc'], verify: true });
  assert.equal(s().restore.job.jobId, 'r1');
});
