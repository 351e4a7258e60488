import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobEvent } from '../../shared/job-events';
import { IDLE_JOB, RATE_HISTORY_LENGTH, applyJobEvent, percentOf, startingJob } from './job-view';

const started: JobEvent = { type: 'job-started', jobId: 'a', kind: 'flash', source: 'x.img', targets: ['/dev/sdb', '/dev/sdc'], totalBytes: 1000 };

test('progress sets phase, counters and percent; the rate history is bounded', () => {
  let v = applyJobEvent(startingJob(), started);
  assert.equal(v.status, 'running');
  assert.equal(v.targets.length, 2);
  for (let i = 0; i < RATE_HISTORY_LENGTH + 10; i++) {
    v = applyJobEvent(v, { type: 'progress', jobId: 'a', phase: 'writing', bytesDone: 250, totalBytes: 1000, bytesPerSecond: i, etaSeconds: 3, targets: [] });
  }
  assert.equal(v.rateHistory.length, RATE_HISTORY_LENGTH);
  assert.equal(v.rateHistory.at(-1), RATE_HISTORY_LENGTH + 9);
  assert.equal(percentOf(v), 25);
  v = applyJobEvent(v, { type: 'progress', jobId: 'a', phase: 'writing', bytesDone: 5, totalBytes: null, bytesPerSecond: 1, etaSeconds: null, targets: [] });
  assert.equal(percentOf(v), null, 'unknown total: indeterminate, not 0%');
});

test('a failed target keeps its reason through later samples and into the result', () => {
  let v = applyJobEvent(IDLE_JOB, started);
  v = applyJobEvent(v, { type: 'target-failed', jobId: 'a', device: '/dev/sdc', error: { code: 'E_BAD_SECTOR', message: 'bad sector at byte 4096', offset: 4096 } });
  v = applyJobEvent(v, {
    type: 'progress', jobId: 'a', phase: 'verifying', bytesDone: 10, totalBytes: 1000, bytesPerSecond: 1, etaSeconds: 1,
    targets: [
      { device: '/dev/sdb', status: 'verifying', bytesWritten: 1000, bytesVerified: 10 },
      { device: '/dev/sdc', status: 'writing', bytesWritten: 10, bytesVerified: 0 },
    ],
  });
  assert.equal(v.targets[1]?.status, 'failed');
  assert.equal(v.targets[1]?.error?.offset, 4096);
  v = applyJobEvent(v, {
    type: 'job-finished', jobId: 'a', ok: false, bytes: 1000,
    targets: [
      { device: '/dev/sdb', status: 'verified', bytesWritten: 1000, bytesVerified: 1000 },
      { device: '/dev/sdc', status: 'failed', bytesWritten: 10, bytesVerified: 0 },
    ],
  });
  assert.equal(v.status, 'finished');
  assert.equal(v.targets[0]?.status, 'verified');
  assert.equal(v.targets[1]?.error?.code, 'E_BAD_SECTOR');
  assert.equal(v.error?.code, 'E_BAD_SECTOR', 'no job-level error: the first target error explains the failure');
});

test('a finished job ignores late progress samples', () => {
  let v = applyJobEvent(IDLE_JOB, started);
  v = applyJobEvent(v, { type: 'job-finished', jobId: 'a', ok: true, bytes: 1000, targets: [] });
  const after = applyJobEvent(v, { type: 'progress', jobId: 'a', phase: 'writing', bytesDone: 1, totalBytes: 1000, bytesPerSecond: 1, etaSeconds: 1, targets: [] });
  assert.equal(after.status, 'finished');
  assert.equal(percentOf(after), 100);
});

test('a job-started heard again (a reconnect replay) keeps what followed it', () => {
  let v = applyJobEvent(startingJob(), started);
  v = applyJobEvent(v, { type: 'target-failed', jobId: 'a', device: '/dev/sdc', error: { code: 'E_WRITE', message: 'no' } });
  v = applyJobEvent(v, { type: 'progress', jobId: 'a', phase: 'verifying', bytesDone: 500, totalBytes: 1000, bytesPerSecond: 1, etaSeconds: 1, targets: [] });
  const again = applyJobEvent(v, started);
  assert.equal(again, v);
  assert.equal(again.phase, 'verifying');
  assert.equal(again.targets.find((t) => t.device === '/dev/sdc')?.status, 'failed');
});
