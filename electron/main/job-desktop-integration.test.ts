import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { JobEvent } from '../../shared/job-events';
import type { ServiceEvent } from '../service/imprint-service';
import { FakeBrowserWindow, FakeNotification, fakeDialog, fakePowerSaveBlocker, installFakeElectron } from './testing/fake-electron';

installFakeElectron();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { confirmCloseWhileRunning, followJobs } = require('./job-desktop-integration') as typeof import('./job-desktop-integration');

/** A service stand-in: the integration only subscribes to its events. */
function events(): { subscribe: (l: (e: ServiceEvent) => void) => () => void; emit(e: JobEvent): void } {
  const listeners = new Set<(e: ServiceEvent) => void>();
  return {
    subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
    emit: (e) => listeners.forEach((l) => l({ event: 'onJobEvent', payload: e })),
  };
}

const started = (jobId: string, totalBytes: number | null): JobEvent => ({ type: 'job-started', jobId, kind: 'flash', source: 'x.img', targets: ['/dev/sdz'], totalBytes });
const progress = (jobId: string, bytesDone: number, totalBytes: number | null): JobEvent => ({ type: 'progress', jobId, phase: 'writing', bytesDone, totalBytes, bytesPerSecond: 1, etaSeconds: null, targets: [] });
const finished = (jobId: string, ok: boolean): JobEvent => ({
  type: 'job-finished', jobId, ok, bytes: 0, targets: [],
  ...(ok ? {} : { error: { code: 'E_TARGET_END' as const, message: 'The drive ended at byte 16777216. Its old data is erased.' } }),
});

test('taskbar progress follows the slowest job; the blocker holds while any job runs; notifications only when unseen', () => {
  const win = new FakeBrowserWindow({});
  const bus = events();
  FakeNotification.shown.length = 0;
  const stop = followJobs(bus.subscribe, { window: () => win as never, powerSaveBlocker: fakePowerSaveBlocker, Notification: FakeNotification });
  bus.emit(started('a', 1000));
  assert.deepEqual(fakePowerSaveBlocker.started, ['prevent-app-suspension']);
  assert.equal(fakePowerSaveBlocker.active.size, 1);
  assert.deepEqual(win.progress.at(-1), [2, { mode: 'indeterminate' }], 'no progress yet: indeterminate');
  bus.emit(progress('a', 250, 1000));
  assert.deepEqual(win.progress.at(-1), [0.25, { mode: 'normal' }]);
  bus.emit(started('b', null));
  assert.equal(fakePowerSaveBlocker.active.size, 1, 'one blocker for all jobs');
  bus.emit(progress('b', 10, 100));
  bus.emit(progress('a', 900, 1000));
  assert.deepEqual(win.progress.at(-1), [0.1, { mode: 'normal' }], 'the slowest job');
  bus.emit(finished('b', true));
  assert.equal(FakeNotification.shown.length, 0, 'the window had focus: no notification');
  assert.equal(fakePowerSaveBlocker.active.size, 1, 'job a still runs');
  assert.deepEqual(win.progress.at(-1), [0.9, { mode: 'normal' }]);
  win.focused = false;
  bus.emit(finished('a', false));
  assert.equal(fakePowerSaveBlocker.active.size, 0, 'released when the last job ended');
  assert.deepEqual(win.progress.at(-1), [-1, undefined], 'the bar is removed');
  assert.deepEqual(FakeNotification.shown, [{ title: 'Flash failed', body: 'The drive ended at byte 16777216. Its old data is erased.', silent: false }]);
  bus.emit(started('c', 10));
  bus.emit(finished('c', true));
  assert.deepEqual(FakeNotification.shown.at(-1), { title: 'Flash finished', body: 'Finished and checked.', silent: false });
  bus.emit(started('d', 10));
  stop();
  assert.equal(fakePowerSaveBlocker.active.size, 0, 'unsubscribing releases the blocker');
  bus.emit(progress('d', 5, 10));
  assert.deepEqual(win.progress.at(-1), [2, { mode: 'indeterminate' }], 'no events after stop');
});

test('closing the window while a job runs asks; "keep running" keeps it open, the other answer closes', () => {
  const win = new FakeBrowserWindow({});
  let running = 0;
  fakeDialog.asked.length = 0;
  confirmCloseWhileRunning(win as never, () => running, fakeDialog as never);
  win.close();
  assert.equal(win.closed, true, 'no job: closes without asking');
  assert.equal(fakeDialog.asked.length, 0);

  const busy = new FakeBrowserWindow({});
  running = 1;
  confirmCloseWhileRunning(busy as never, () => running, fakeDialog as never);
  fakeDialog.answer = 0;
  busy.close();
  assert.equal(busy.closed, false, 'kept open');
  assert.equal(fakeDialog.asked.length, 1);
  const question = fakeDialog.asked[0] as { buttons: string[]; cancelId: number; defaultId: number; message: string };
  assert.deepEqual(question.buttons, ['Keep running', 'Cancel the job and quit']);
  assert.equal(question.defaultId, 0, 'the safe answer is the default');
  assert.equal(question.cancelId, 0, 'Escape keeps it running');
  fakeDialog.answer = 1;
  busy.close();
  assert.equal(busy.closed, true, 'closed after agreeing');
  assert.equal(fakeDialog.asked.length, 2, 'asked once per attempt, not again for the close it started');
});
