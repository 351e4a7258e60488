import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BAD_AREAS_SHOWN, rescueOutcome } from '../backup/backup-outcome';
import { createAppStore } from './app-store';
import { rescueOffered } from './backup-slice';
import { bindApi } from './bind-api';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import type { BackupJobDetails, RescueJobDetails } from '../../shared/job-events';
import { createFakeApi } from './fake-api';

const MiB = 1 << 20;

test('a backup that fails on unreadable sectors offers rescue; rescueRequested starts the same backup with rescue; the result says what was saved and lost', async () => {
  const api = createFakeApi();
  const store = createAppStore(api);
  const unbind = bindApi(store, api);
  const s = () => store.getState();
  try {
    s().drivesChanged([fakeDrive({ device: '/dev/sdb', size: 16 * MiB })]);
    s().backupPathTyped('/home/me/sdb.img.zst');
    s().backupSourceChosen('/dev/sdb');
    api.answer('startBackup', (req) => ({ ok: true, value: { jobId: req.rescue ? 'r1' : 'b1' } }));

    await s().rescueRequested();
    assert.equal(api.calls.filter((c) => c.name === 'startBackup').length, 0, 'no rescue before a backup failed on bad sectors');

    await s().backupRequested();
    api.emitJob({ type: 'job-started', jobId: 'b1', kind: 'backup', source: '/dev/sdb', targets: ['/home/me/sdb.img.zst'], totalBytes: 16 * MiB });
    assert.equal(rescueOffered(s().backup.job), false, 'not while running');
    api.emitJob({ type: 'job-finished', jobId: 'b1', ok: false, bytes: 0, targets: [], error: { code: 'E_BAD_SECTOR', message: 'unreadable sector at offset 6292480', offset: 6292480 } });
    assert.equal(rescueOffered(s().backup.job), true);

    await s().rescueRequested();
    const starts = api.calls.filter((c) => c.name === 'startBackup').map((c) => c.request);
    assert.deepEqual(starts, [
      { device: '/dev/sdb', output: '/home/me/sdb.img.zst', compression: 'zstd', force: false, sectorBySector: false },
      { device: '/dev/sdb', output: '/home/me/sdb.img.zst', compression: 'zstd', force: false, sectorBySector: false, rescue: true },
    ]);
    assert.equal(s().backup.job.jobId, 'r1');
    assert.equal(rescueOffered(s().backup.job), false, 'not while the rescue runs');

    const badAreas = Array.from({ length: BAD_AREAS_SHOWN + 2 }, (_, i) => ({ offset: (i + 1) * MiB, length: 512 * (i + 1) }));
    const lost = badAreas.reduce((n, a) => n + a.length, 0);
    api.emitJob({ type: 'job-started', jobId: 'r1', kind: 'backup', source: '/dev/sdb', targets: ['/home/me/sdb.img.zst'], totalBytes: 16 * MiB });
    api.emitJob({ type: 'job-started', jobId: 'r1', kind: 'rescue', source: '/dev/sdb', targets: ['/home/me/sdb.img'], totalBytes: 16 * MiB });
    api.emitJob({
      type: 'job-finished',
      jobId: 'r1',
      ok: false,
      bytes: 16 * MiB - lost,
      targets: [{ device: '/home/me/sdb.img', status: 'failed', bytesWritten: 16 * MiB - lost, bytesVerified: 0 }],
      error: { code: 'E_BAD_SECTOR', message: `${lost} bytes could not be read`, offset: MiB },
      details: { kind: 'rescue', rescuedBytes: 16 * MiB - lost, lostBytes: lost, badAreas, badAreaCount: badAreas.length, output: '/home/me/sdb.img', mapfile: '/home/me/sdb.img.map' } as RescueJobDetails,
    });
    const job = s().backup.job;
    assert.equal(job.status, 'finished');
    assert.equal(rescueOffered(job), false, 'a rescue that lost bytes is not offered again: its result says where');
    assert.ok(job.result);
    const o = rescueOutcome(job.result);
    assert.ok(o);
    assert.equal(o.rescuedBytes, 16 * MiB - lost);
    assert.equal(o.lostBytes, lost);
    assert.deepEqual(o.badAreas, badAreas.slice(0, BAD_AREAS_SHOWN));
    assert.equal(o.badAreaCount, BAD_AREAS_SHOWN + 2);
    assert.equal(o.file, '/home/me/sdb.img');
  } finally {
    unbind();
  }
});

test('rescue is offered only for unreadable sectors of a backup, not for other failures', () => {
  const api = createFakeApi();
  const store = createAppStore(api);
  const base = { ...store.getState().backup.job, status: 'finished' as const, kind: 'backup' as const };
  const finished = { type: 'job-finished' as const, jobId: 'b', ok: false, bytes: 0, targets: [] };
  assert.equal(rescueOffered({ ...base, error: { code: 'E_DEVICE_GONE', message: 'gone' }, result: finished }), false);
  assert.equal(rescueOffered({ ...base, error: { code: 'E_CANCELLED', message: 'Cancelled.' }, result: finished }), false);
  assert.equal(rescueOffered({ ...base, error: { code: 'E_BAD_SECTOR', message: 'bad' }, result: finished }), true);
  assert.equal(rescueOutcome({ ...finished, ok: true, details: { kind: 'backup', output: '/x.img.zst' } as BackupJobDetails }), null, 'an ordinary backup is no rescue');
});
