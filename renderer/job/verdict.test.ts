import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TargetProgress } from '../../shared/job-events';
import { failureText, formatRatio, verdictText } from './verdict';

const t = (device: string, status: TargetProgress['status'], extra: Partial<TargetProgress> = {}): TargetProgress => ({
  device, status, bytesWritten: 0, bytesVerified: 0, ...extra,
});

test('success says whether the drives were verified', () => {
  assert.equal(verdictText({ kind: 'flash', targets: [t('/dev/a', 'verified')], error: null }), 'Flashed and verified.');
  assert.equal(verdictText({ kind: 'restore', targets: [t('/dev/a', 'verified')], error: null }), 'Restored and verified.');
  assert.equal(verdictText({ kind: 'flash', targets: [t('/dev/a', 'written')], error: null }), 'Flashed.');
  assert.equal(verdictText({ kind: 'flash', targets: [t('/dev/a', 'verified'), t('/dev/b', 'verified')], error: null }), 'All 2 drives written and verified.');
  assert.equal(verdictText({ kind: 'flash', targets: [t('/dev/a', 'written'), t('/dev/b', 'verified')], error: null }), 'All 2 drives written.');
});

test('a failure listed on its target is counted, not repeated; one that is not is spelled out', () => {
  const bad = { code: 'E_BAD_SECTOR' as const, message: 'bad sector at byte 512', offset: 512 };
  assert.equal(verdictText({ kind: 'flash', targets: [t('/dev/a', 'verified'), t('/dev/b', 'failed', { error: bad })], error: bad }), 'The flash failed on 1 of 2 drives.');
  assert.equal(verdictText({ kind: 'restore', targets: [t('/dev/a', 'failed', { error: bad })], error: bad }), 'The restore failed.');
  const refused = { code: 'E_TARGET_MOUNTED' as const, message: '/dev/a1 is busy' };
  assert.equal(verdictText({ kind: null, targets: [], error: refused }), 'Failed: /dev/a1 is busy');
  assert.equal(failureText({ code: 'E_VERIFY_MISMATCH', message: 'differs', offset: 4096 }), 'Failed: differs (at byte 4096)');
  assert.equal(failureText(bad), 'Failed: bad sector at byte 512', 'the offset is not said twice');
});

test('a cancel says when drives were left partly written', () => {
  const cancelled = { code: 'E_CANCELLED' as const, message: 'Cancelled.' };
  assert.equal(verdictText({ kind: 'flash', targets: [t('/dev/a', 'cancelled')], error: cancelled }), 'Cancelled.');
  assert.match(verdictText({ kind: 'flash', targets: [t('/dev/a', 'cancelled', { bytesWritten: 4096 })], error: cancelled }), /partly written/);
});

test('ratios read as a share of the original', () => {
  assert.equal(formatRatio(0.3125), '31% of original');
  assert.equal(formatRatio(0.0042), '0.4% of original');
});
