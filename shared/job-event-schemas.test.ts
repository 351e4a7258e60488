import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CLI_ERROR_SCHEMA, JOB_EVENT_SCHEMA } from './job-event-schemas';

function refused(value: unknown): string {
  const r = JOB_EVENT_SCHEMA(value, 'event');
  assert.equal(r.ok, false, `expected ${JSON.stringify(value)} to be refused`);
  return r.ok ? '' : r.problem;
}

const progress = { type: 'progress', jobId: 'j-1', phase: 'writing', bytesDone: 5, totalBytes: 10, bytesPerSecond: 1.5, etaSeconds: 3.3, targets: [{ device: '/dev/sdb', status: 'writing', bytesWritten: 5, bytesVerified: 0 }] };

test('a well-formed event passes and comes back as a fresh copy', () => {
  const r = JOB_EVENT_SCHEMA(progress, 'event');
  assert.ok(r.ok, r.ok ? '' : r.problem);
  assert.deepEqual(r.value, progress);
  assert.notEqual(r.value, progress);
});

test('malformed events are refused with the path to what is wrong', () => {
  assert.match(refused({ ...progress, type: 'progres' }), /^event\.type must be one of "job-started", "progress"/);
  assert.match(refused({ ...progress, phase: 'flying' }), /^event\.phase must be one of/);
  assert.match(refused({ ...progress, bytesDone: '5' }), /^event\.bytesDone must be a number, not "5"/);
  const { bytesDone: _, ...noBytes } = progress;
  assert.match(refused(noBytes), /^event\.bytesDone is missing/);
  assert.match(refused({ ...progress, extra: 1 }), /^event has unknown field "extra"/);
  assert.match(refused({ ...progress, bytesDone: 2 ** 60 }), /^event\.bytesDone must be at most 9007199254740991/);
  assert.match(refused({ ...progress, bytesPerSecond: NaN }), /^event\.bytesPerSecond must be a finite number, not NaN/);
  assert.match(refused({ ...progress, etaSeconds: -1 }), /^event\.etaSeconds must be at least 0/);
  assert.match(refused({ ...progress, targets: [{ ...progress.targets[0], status: 'exploded' }] }), /^event\.targets\[0\]\.status must be one of/);
  assert.match(refused({ ...progress, jobId: 'a b' }), /^event\.jobId is not a job id/);
});

test('finished jobs: details are checked by their kind', () => {
  const finished = {
    type: 'job-finished',
    jobId: 'j-1',
    ok: true,
    targets: [],
    bytes: 4096,
    details: { kind: 'format', filesystem: 'fat32', label: 'USB', partition: '/dev/sdb1' },
  };
  assert.ok(JOB_EVENT_SCHEMA(finished, 'event').ok);
  assert.match(refused({ ...finished, details: { ...finished.details, kind: 'backup' } }), /^event\.details has unknown fields "filesystem", "label", "partition"/);
  assert.match(refused({ ...finished, details: { ...finished.details, kind: 'unzip' } }), /^event\.details\.kind must be one of "backup", "rescue"/);
  assert.match(refused({ ...finished, digests: { sha256: 'zz' } }), /^event\.digests\.sha256 must be hexadecimal/);
  assert.match(refused({ ...finished, error: { code: 'E_MADE_UP', message: 'x' } }), /^event\.error\.code is not an error code/);
  const check = { kind: 'check', claimedBytes: 8, realBytesEstimate: 4, wrapsAt: 4, markers: 2, failedMarkers: 1, restoredPages: 2, notRestoredPages: 0, failures: [{ offset: 4, state: 'read-error', errno: 'EIO' }] };
  assert.ok(JOB_EVENT_SCHEMA({ ...finished, details: check }, 'event').ok);
  assert.match(refused({ ...finished, details: { ...check, failures: [{ offset: 4, state: 'read-error' }] } }), /failures\[0\]\.errno is missing/);
  assert.match(refused({ ...finished, details: { ...check, failures: [{ offset: 4, state: 'lost', by: 0 }] } }), /failures\[0\] has unknown field "by"/);
});

test('the CLI\'s refusal report', () => {
  assert.ok(CLI_ERROR_SCHEMA({ type: 'error', error: { code: 'E_TARGET_TOO_SMALL', message: 'too small', offset: 0 } }, 'e').ok);
  const r = CLI_ERROR_SCHEMA({ type: 'error', error: { code: 'E_TARGET_TOO_SMALL' } }, 'e');
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.problem, /e\.error\.message is missing/);
});
