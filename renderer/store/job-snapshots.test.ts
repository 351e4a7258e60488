import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobEvent } from '../../shared/job-events';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createAppStore } from './app-store';
import { bindApi } from './bind-api';
import { targetOptions, NO_IMAGE } from './drive-options';
import { busyDevices } from './jobs-slice';
import { createFakeApi } from './fake-api';

const flush = () => new Promise((r) => setImmediate(r));

const running: JobEvent[] = [
  { type: 'job-started', jobId: 'run', kind: 'flash', source: '/images/os.img', targets: ['/dev/sdb'], totalBytes: 1000, startedAt: '2026-01-01T10:00:00.000Z' },
  { type: 'progress', jobId: 'run', phase: 'writing', bytesDone: 400, totalBytes: 1000, bytesPerSecond: 50, etaSeconds: 12, targets: [{ device: '/dev/sdb', status: 'writing', bytesWritten: 400, bytesVerified: 0 }] },
];
const ended: JobEvent[] = [
  { type: 'job-started', jobId: 'old', kind: 'restore', source: '/b/old.img.zst', targets: ['/dev/sdc'], totalBytes: 10 },
  { type: 'job-finished', jobId: 'old', ok: true, targets: [], bytes: 10 },
];

function setup(snapshot: JobEvent[]) {
  const api = createFakeApi();
  api.answer('listDrives', { ok: true, value: [fakeDrive({ device: '/dev/sdb', description: 'SanDisk Cruzer' }), fakeDrive({ device: '/dev/sdc' })] });
  api.answer('jobSnapshots', { ok: true, value: snapshot });
  api.answer('cancelJob', { ok: true, value: null });
  const store = createAppStore(api);
  bindApi(store, api);
  return { api, store };
}

test('a page that opens while a job runs shows it where it belongs, with its progress, and Cancel reaches it', async () => {
  const { api, store } = setup([...running, ...ended]);
  await flush();
  const job = store.getState().flash.job;
  assert.equal(job.status, 'running');
  assert.equal(job.jobId, 'run');
  assert.equal(job.source, '/images/os.img');
  assert.equal(job.bytesDone, 400);
  assert.equal(job.startedAt, Date.parse('2026-01-01T10:00:00.000Z'));
  assert.deepEqual(job.drives.map((d) => d.description), ['SanDisk Cruzer'], 'the drive list names the job\'s drive');
  assert.equal(store.getState().restore.job.status, 'idle', 'a job that ended before the page opened is not shown');
  await store.getState().cancelRequested('flash');
  assert.deepEqual(api.calls.find((c) => c.name === 'cancelJob')?.request, { jobId: 'run' });
  store.getState().jobEventReceived({ type: 'job-finished', jobId: 'run', ok: false, targets: [], bytes: 400, error: { code: 'E_CANCELLED', message: 'Cancelled.' }, finishedAt: '2026-01-01T10:00:08.000Z' });
  assert.equal(store.getState().flash.job.status, 'finished');
  assert.equal(store.getState().flash.job.finishedAt, Date.parse('2026-01-01T10:00:08.000Z'));
});

test('a drive a running job uses is refused on every list until the job ends', async () => {
  const { store } = setup(running);
  await flush();
  const s = () => store.getState();
  assert.deepEqual([...busyDevices(s()).keys()], ['/dev/sdb']);
  const sdb = targetOptions(s().drives.list, NO_IMAGE, true, busyDevices(s())).find((o) => o.drive.device === '/dev/sdb');
  assert.equal(sdb?.refusals[0]?.code, 'E_TARGET_BUSY');
  assert.match(sdb?.refusals[0]?.reason ?? '', /flash that is running/);
  s().restoreTargetToggled('/dev/sdb');
  assert.deepEqual(s().restore.selected, [], 'a busy drive cannot be chosen to restore to');
  s().backupSourceChosen('/dev/sdb');
  assert.equal(s().backup.source, null, 'nor backed up while it is written');
  // Another window starts a backup of /dev/sdc: busy here too, though this page did not start it.
  s().jobEventReceived({ type: 'job-started', jobId: 'other', kind: 'backup', source: '/dev/sdc', targets: ['/tmp/x.img.zst'], totalBytes: 5 });
  assert.deepEqual([...busyDevices(s()).keys()].sort(), ['/dev/sdb', '/dev/sdc']);
  s().jobEventReceived({ type: 'job-finished', jobId: 'run', ok: true, targets: [], bytes: 1000 });
  s().jobEventReceived({ type: 'job-finished', jobId: 'other', ok: true, targets: [], bytes: 5 });
  assert.deepEqual([...busyDevices(s()).keys()], []);
  s().restoreTargetToggled('/dev/sdb');
  assert.deepEqual(s().restore.selected, ['/dev/sdb']);
});
