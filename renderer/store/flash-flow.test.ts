import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageDetails } from '../../shared/ipc-contract';
import type { JobEvent } from '../../shared/job-events';
import { createAppStore } from './app-store';
import { bindApi } from './bind-api';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createFakeApi } from './fake-api';

const IMAGE: ImageDetails = {
  path: '/images/os.img.gz',
  name: 'os.img.gz',
  format: 'gzip',
  formatLabel: 'gzip',
  fileSize: 1e6,
  size: 4e9,
  partitionTable: 'mbr',
};

const flush = () => new Promise((r) => setImmediate(r));

function setup() {
  const api = createFakeApi();
  api.answer('listDrives', { ok: true, value: [fakeDrive({ device: '/dev/sdb' }), fakeDrive({ device: '/dev/sdc', size: 2e9 }), fakeDrive({ device: '/dev/loop7', virtual: true, removable: false, bus: 'loop' })] });
  api.answer('inspectImage', (r) => (r.path === IMAGE.path ? { ok: true, value: IMAGE } : { ok: false, error: { code: 'E_SOURCE_NOT_FOUND', message: `${r.path} does not exist` } }));
  const store = createAppStore(api);
  const unbind = bindApi(store, api);
  return { api, store, unbind };
}

test('bindApi loads drives once and routes pushes to actions; unbinding removes the listeners', async () => {
  const { api, store, unbind } = setup();
  await flush();
  assert.equal(api.calls.filter((c) => c.name === 'listDrives').length, 1);
  assert.deepEqual(store.getState().drives.list.map((d) => d.device), ['/dev/sdb', '/dev/sdc', '/dev/loop7']);
  api.emitDrives([fakeDrive({ device: '/dev/sdd' })]);
  assert.deepEqual(store.getState().drives.list.map((d) => d.device), ['/dev/sdd']);
  assert.equal(api.listenerCount(), 2);
  unbind();
  assert.equal(api.listenerCount(), 0);
});

test('a typed image path is inspected; a bad path shows the error and no details', async () => {
  const { store } = setup();
  store.getState().imagePathTyped('/nope.img');
  await store.getState().imagePathSubmitted();
  assert.equal(store.getState().image.details, null);
  assert.equal(store.getState().image.error?.code, 'E_SOURCE_NOT_FOUND');
  store.getState().imagePathTyped(IMAGE.path);
  await store.getState().imagePathSubmitted();
  assert.equal(store.getState().image.details?.name, 'os.img.gz');
  assert.equal(store.getState().image.error, null);
});

test('browser mode: the dialog answers null and nothing changes; a drop without a path asks for the path', async () => {
  const { api, store } = setup();
  api.answer('chooseImage', { ok: true, value: null });
  await store.getState().imageChooseRequested();
  assert.equal(store.getState().image.details, null);
  assert.equal(api.calls.some((c) => c.name === 'inspectImage'), false);
  await store.getState().imageDropped({ name: 'os.img.gz', path: null });
  assert.match(store.getState().image.notice ?? '', /os\.img\.gz.*Image path/);
  await store.getState().imageDropped({ name: 'os.img.gz', path: IMAGE.path });
  assert.equal(store.getState().image.details?.path, IMAGE.path);
});

test('targets: refused and hidden drives cannot be chosen; a new image or vanished drive unchooses', async () => {
  const { api, store } = setup();
  await flush();
  const s = () => store.getState();
  s().targetToggled('/dev/loop7'); // hidden without "Show all drives"
  assert.deepEqual(s().targets.selected, []);
  s().showAllToggled();
  s().targetToggled('/dev/loop7');
  s().targetToggled('/dev/sdc');
  assert.deepEqual(s().targets.selected, ['/dev/loop7', '/dev/sdc']);
  s().showAllToggled(); // hiding the loop device unchooses it
  assert.deepEqual(s().targets.selected, ['/dev/sdc']);
  await s().imageChosen(IMAGE.path); // 4 GB image: /dev/sdc (2 GB) is too small now
  assert.deepEqual(s().targets.selected, []);
  s().targetToggled('/dev/sdc');
  assert.deepEqual(s().targets.selected, []);
  s().targetToggled('/dev/sdb');
  assert.deepEqual(s().targets.selected, ['/dev/sdb']);
  api.emitDrives([fakeDrive({ device: '/dev/sdc', size: 2e9 })]); // /dev/sdb unplugged
  assert.deepEqual(s().targets.selected, []);
});

test('flash: request opens the confirmation, confirm starts the job with the chosen targets and verify on', async () => {
  const { api, store } = setup();
  await flush();
  const s = () => store.getState();
  s().flashRequested();
  assert.equal(s().flash.confirming, false, 'no image, no targets: nothing to confirm');
  await s().imageChosen(IMAGE.path);
  s().targetToggled('/dev/sdb');
  s().flashRequested();
  assert.equal(s().flash.confirming, true);
  s().flashConfirmDismissed();
  assert.equal(s().flash.confirming, false);
  assert.equal(api.calls.some((c) => c.name === 'startFlash'), false);
  api.answer('startFlash', { ok: true, value: { jobId: 'j1' } });
  s().flashRequested();
  await s().flashConfirmed();
  const start = api.calls.find((c) => c.name === 'startFlash');
  assert.deepEqual(start?.request, { image: IMAGE.path, targets: ['/dev/sdb'], verify: true });
  assert.equal(s().flash.job.jobId, 'j1');
  assert.equal(s().flash.job.status, 'running');
});

test('a refused start shows its error as the job result', async () => {
  const { api, store } = setup();
  await flush();
  await store.getState().imageChosen(IMAGE.path);
  store.getState().targetToggled('/dev/sdb');
  api.answer('startFlash', { ok: false, error: { code: 'E_TARGET_MOUNTED', message: '/dev/sdb1 could not be unmounted' } });
  store.getState().flashRequested();
  await store.getState().flashConfirmed();
  assert.equal(store.getState().flash.job.status, 'finished');
  assert.equal(store.getState().flash.job.error?.code, 'E_TARGET_MOUNTED');
});

test('events pushed before startFlash answered are kept and applied once the job id is known', async () => {
  const { api, store } = setup();
  await flush();
  await store.getState().imageChosen(IMAGE.path);
  store.getState().targetToggled('/dev/sdb');
  const events: JobEvent[] = [
    { type: 'job-started', jobId: 'j9', kind: 'flash', source: IMAGE.path, targets: ['/dev/sdb'], totalBytes: 4e9 },
    { type: 'progress', jobId: 'j9', phase: 'writing', bytesDone: 1e9, totalBytes: 4e9, bytesPerSecond: 5e7, etaSeconds: 60, targets: [] },
  ];
  api.answer('startFlash', () => {
    events.forEach((e) => api.emitJob(e)); // the service pushes first, answers after
    return { ok: true, value: { jobId: 'j9' } };
  });
  store.getState().flashRequested();
  await store.getState().flashConfirmed();
  const job = store.getState().flash.job;
  assert.equal(job.phase, 'writing');
  assert.equal(job.bytesDone, 1e9);
  assert.deepEqual(job.targets.map((t) => t.device), ['/dev/sdb']);
  assert.deepEqual(store.getState().jobs.orphans, []);
  api.emitJob({ type: 'progress', jobId: 'other', phase: 'writing', bytesDone: 5, totalBytes: 10, bytesPerSecond: 1, etaSeconds: 1, targets: [] });
  assert.equal(store.getState().flash.job.bytesDone, 1e9, 'another job\'s events do not touch this one');
});

test('cancel: pressed before the id is known, it is sent as soon as the job starts', async () => {
  const { api, store } = setup();
  await flush();
  await store.getState().imageChosen(IMAGE.path);
  store.getState().targetToggled('/dev/sdb');
  api.answer('cancelJob', { ok: true, value: null });
  let release: (v: unknown) => void = () => undefined;
  const gate = new Promise((r) => (release = r));
  api.answer('startFlash', () => ({ ok: true, value: { jobId: 'j2' } }));
  const realStart = api.startFlash;
  api.startFlash = async (r) => {
    await gate;
    return realStart(r);
  };
  store.getState().flashRequested();
  const started = store.getState().flashConfirmed();
  assert.equal(store.getState().flash.job.status, 'starting');
  await store.getState().cancelRequested('flash');
  assert.equal(api.calls.some((c) => c.name === 'cancelJob'), false, 'no id yet');
  assert.equal(store.getState().flash.job.cancelling, true);
  release(null);
  await started;
  await flush();
  assert.deepEqual(api.calls.find((c) => c.name === 'cancelJob')?.request, { jobId: 'j2' });
  api.emitJob({ type: 'job-finished', jobId: 'j2', ok: false, bytes: 0, targets: [{ device: '/dev/sdb', status: 'cancelled', bytesWritten: 0, bytesVerified: 0 }], error: { code: 'E_CANCELLED', message: 'Cancelled.' } });
  assert.equal(store.getState().flash.job.status, 'finished');
  assert.equal(store.getState().flash.job.cancelling, false);
  store.getState().newFlashRequested();
  assert.equal(store.getState().flash.job.status, 'idle');
  assert.equal(store.getState().image.details?.path, IMAGE.path, 'the image stays chosen for the next flash');
});
