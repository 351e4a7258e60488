import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseFilesystem, FAT32_MAX_DRIVE_BYTES, FORMAT_MIN_DRIVE_BYTES, labelProblem } from '../../shared/format-rules';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createAppStore } from './app-store';
import { bindApi } from './bind-api';
import { createFakeApi } from './fake-api';
import { targetOptions } from './drive-options';
import { FORMAT_FACTS, formatFilesystemNow, formatLabelProblem, formatTargetNow } from './format-slice';
import { busyDevices } from './jobs-slice';

const flush = () => new Promise((r) => setImmediate(r));

function setup() {
  const api = createFakeApi();
  api.answer('listDrives', {
    ok: true,
    value: [
      fakeDrive({ device: '/dev/sdb', size: 16e9 }),
      fakeDrive({ device: '/dev/sdc', size: 64e9 }),
      fakeDrive({ device: '/dev/sdd', size: FORMAT_MIN_DRIVE_BYTES - 512 }),
      fakeDrive({ device: '/dev/sde', readOnly: true }),
    ],
  });
  api.answer('jobSnapshots', { ok: true, value: [] });
  const store = createAppStore(api);
  bindApi(store, api);
  return { api, store, s: () => store.getState() };
}

test('format: only a drive the rules allow can be chosen; a too small or read-only one is refused', async () => {
  const { s } = setup();
  await flush();
  s().formatDriveChosen('/dev/sdd');
  s().formatDriveChosen('/dev/sde');
  assert.equal(s().format.selected, null);
  s().formatDriveChosen('/dev/sdb');
  assert.equal(formatTargetNow(s()), '/dev/sdb');
});

test('format: "Automatic" follows the drive\'s size as the CLI does; the label is checked for the filesystem made', async () => {
  const { s } = setup();
  await flush();
  assert.equal(formatFilesystemNow(s()), null, 'no drive yet');
  s().formatDriveChosen('/dev/sdb');
  assert.equal(formatFilesystemNow(s()), chooseFilesystem(16e9));
  s().formatDriveChosen('/dev/sdc');
  assert.equal(formatFilesystemNow(s()), chooseFilesystem(64e9));
  assert.notEqual(chooseFilesystem(16e9), chooseFilesystem(64e9), `16 GB and 64 GB lie either side of ${FAT32_MAX_DRIVE_BYTES}`);
  // 12 characters: too long for FAT32, fine for exFAT.
  s().formatLabelTyped('HOLIDAYS2026');
  assert.equal(formatLabelProblem(s()), null, 'exFAT on the 64 GB drive takes it');
  s().formatFilesystemChosen('fat32');
  const problem = formatLabelProblem(s());
  assert.ok(problem && problem.toLowerCase().startsWith((labelProblem('HOLIDAYS2026', 'fat32') ?? 'none').toLowerCase()), problem ?? 'no problem');
  s().formatRequested();
  assert.equal(s().format.confirming, false, 'a bad label asks no confirmation');
});

test('format: Format asks first; Cancel sends nothing; confirming sends the drive, filesystem and label; the job shows on the Format screen', async () => {
  const { api, s } = setup();
  await flush();
  s().formatDriveChosen('/dev/sdb');
  s().formatLabelTyped('Stick');
  s().formatRequested();
  assert.equal(s().format.confirming, true);
  s().formatConfirmDismissed();
  assert.equal(api.calls.some((c) => c.name === 'startFormat'), false);
  api.answer('startFormat', { ok: true, value: { jobId: 'f1' } });
  s().formatFilesystemChosen('exfat');
  s().formatRequested();
  await s().formatConfirmed();
  assert.deepEqual(api.calls.find((c) => c.name === 'startFormat')?.request, { drive: '/dev/sdb', label: 'Stick', filesystem: 'exfat' });
  api.emitJob({ type: 'job-started', jobId: 'f1', kind: 'format', source: 'format:exfat', targets: ['/dev/sdb'], totalBytes: 16e9 });
  assert.equal(s().format.job.status, 'running');
  // The drive is busy on every screen while the format runs.
  s().showAllToggled();
  s().targetToggled('/dev/sdb');
  assert.deepEqual(s().targets.selected, []);
  api.emitJob({ type: 'job-finished', jobId: 'f1', ok: true, targets: [{ device: '/dev/sdb', status: 'verified', bytesWritten: 16e9, bytesVerified: 16e9 }], bytes: 16e9, details: { kind: 'format', filesystem: 'exfat', label: 'Stick', partition: '/dev/sdb1' } });
  assert.equal(s().format.job.status, 'finished');
  s().newFormatRequested();
  assert.equal(s().format.job.status, 'idle');
  assert.equal(s().format.selected, '/dev/sdb', 'the drive stays chosen for another go');
});

test('format: a reload mid-format shows the job on the Format screen', async () => {
  const { api, store } = setup();
  api.answer('jobSnapshots', { ok: true, value: [{ type: 'job-started', jobId: 'f2', kind: 'format', source: 'format:fat32', targets: ['/dev/sdb'], totalBytes: 16e9 }] });
  await store.getState().jobSnapshotsRequested();
  assert.equal(store.getState().format.job.jobId, 'f2');
  assert.equal(store.getState().format.job.status, 'running');
});

test('format: a drive another job is writing is marked busy on the Format screen and cannot be chosen; a chosen one drops out', async () => {
  const { api, s } = setup();
  await flush();
  s().formatDriveChosen('/dev/sdb');
  // A flash started in another window: the service tells every window.
  api.emitJob({ type: 'job-started', jobId: 'x1', kind: 'flash', source: '/images/os.img', targets: ['/dev/sdb'], totalBytes: 1e9 });
  assert.equal(formatTargetNow(s()), null, 'no longer what Format would erase');
  const row = targetOptions(s().drives.list, FORMAT_FACTS, s().drives.showAll, busyDevices(s())).find((o) => o.drive.device === '/dev/sdb');
  assert.deepEqual(row?.refusals.map((r) => r.code), ['E_TARGET_BUSY']);
  assert.match(row?.refusals[0]?.reason ?? '', /flash that is running/);
  s().formatRequested();
  assert.equal(s().format.confirming, false);
  api.emitJob({ type: 'job-finished', jobId: 'x1', ok: true, targets: [], bytes: 1e9 });
  s().formatDriveChosen('/dev/sdb');
  assert.equal(formatTargetNow(s()), '/dev/sdb', 'free again once the flash ended');
});
