import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FolderBackupJobDetails } from '../../shared/job-events';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { driveLabel, readableDescription } from '../drives/drive-names';
import { IDLE_JOB } from '../store/job-view';
import { averageRate, durationText, verificationText } from './job-facts';
import { scaleTop } from './throughput-graph';

test('a result\'s time and average speed come from the service\'s stamps; none without them', () => {
  const job = { startedAt: Date.parse('2026-01-01T10:00:00Z'), finishedAt: Date.parse('2026-01-01T10:01:05Z') };
  assert.equal(durationText(job), '1:05');
  assert.equal(averageRate(job, 130e6), '2.0 MB/s');
  assert.equal(durationText({ startedAt: null, finishedAt: job.finishedAt }), null);
  assert.equal(averageRate({ startedAt: job.startedAt, finishedAt: job.startedAt }, 5), null, 'no rate over zero seconds');
});

test('vendor codes leave a drive\'s name; the label gives model and size', () => {
  assert.equal(readableDescription('0x1af4'), '');
  assert.equal(readableDescription('SanDisk 0x5581 Cruzer'), 'SanDisk Cruzer');
  assert.equal(driveLabel('/dev/sdb', [fakeDrive({ description: 'Kingston DataTraveler', size: 32e9 })]), 'Kingston DataTraveler, 32.0 GB');
  assert.equal(driveLabel('/dev/vda', [fakeDrive({ device: '/dev/vda', description: '0x1af4', size: 275e9 })]), '275 GB');
  assert.equal(driveLabel('/dev/sdz', []), '/dev/sdz');
});

test('how a result was verified: read back from the device, and the checksum it matched', () => {
  const targets = [{ device: '/dev/sdb', status: 'verified' as const, bytesWritten: 1, bytesVerified: 1 }];
  const flash = verificationText({ ...IDLE_JOB, kind: 'flash', targets, result: { type: 'job-finished', jobId: 'j', ok: true, targets, bytes: 1, digests: { sha256: 'ab12' } } });
  assert.match(flash[0] ?? '', /read back from the device/);
  assert.match(flash[1] ?? '', /published SHA-256: ab12/);
  const failed = verificationText({ ...IDLE_JOB, kind: 'flash', targets, result: { type: 'job-finished', jobId: 'j', ok: false, targets, bytes: 1 } });
  assert.deepEqual(failed, []);
});

test('the graph\'s scale tops out at 1, 2 or 5 times a power of ten above the peak', () => {
  assert.equal(scaleTop(0), 1);
  assert.equal(scaleTop(37e6), 50e6);
  assert.equal(scaleTop(120e6), 200e6);
  assert.equal(scaleTop(1e6), 1e6);
});

test('a backup into a folder is not said to be read back: its pieces are named by their hashes', () => {
  const targets = [{ device: '/b/folder', status: 'written' as const, bytesWritten: 1, bytesVerified: 0 }];
  const details: FolderBackupJobDetails = { kind: 'folder-backup', folder: '/b/folder', generation: 'g', number: 1, size: 1, storedBytes: 1, pieces: 1, newPieces: 1, newBytes: 1, newStoredBytes: 1, sha256: 'ab', createdAt: '', storage: { mode: 'used-blocks' as const, storedBytes: 1, partitions: [] } };
  const lines = verificationText({ ...IDLE_JOB, kind: 'backup', targets, result: { type: 'job-finished', jobId: 'j', ok: true, targets, bytes: 1, details } });
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /SHA-256 of its data/);
  assert.doesNotMatch(lines[0] ?? '', /read back/);
});
