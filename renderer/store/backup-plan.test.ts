import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StorageSummary } from '../../shared/backup-metadata';
import type { BackupDetails } from '../../shared/ipc-contract';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createAppStore } from './app-store';
import { isSmartBackup } from './restore-slice';
import { createFakeApi } from './fake-api';

const MiB = 1024 * 1024;

/** A plan as the service would answer: in sector mode every partition is whole. */
function planFor(sectorBySector: boolean): StorageSummary {
  const ext4 = { number: 1, start: MiB, size: 64 * MiB, filesystem: 'ext4', usedBytes: sectorBySector ? null : 5 * MiB, reason: sectorBySector ? 'every sector chosen' : null };
  const swap = { number: 2, start: 65 * MiB, size: 16 * MiB, filesystem: null, usedBytes: null, reason: 'no filesystem recognised' };
  const parts = [
    { ...ext4, stored: sectorBySector ? ('whole' as const) : ('used-blocks' as const), storedBytes: sectorBySector ? 64 * MiB : 5 * MiB },
    { ...swap, stored: 'whole' as const, storedBytes: 16 * MiB },
  ];
  return { mode: sectorBySector ? 'sector-by-sector' : 'used-blocks', storedBytes: MiB + parts.reduce((n, p) => n + p.storedBytes, 0), partitions: parts };
}

function setup() {
  const api = createFakeApi();
  api.answer('planBackup', (req) => ({ ok: true, value: planFor(req.sectorBySector === true) }));
  api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
  api.answer('checkBackupOutput', { ok: true, value: { exists: false, folderExists: true, notAFile: false } });
  const store = createAppStore(api);
  store.getState().drivesChanged([fakeDrive({ device: '/dev/sdb' }), fakeDrive({ device: '/dev/sdc' })]);
  return { api, store, s: () => store.getState() };
}

const settle = () => new Promise((r) => setImmediate(r));

test('choosing a drive asks for its plan in smart mode; every sector asks again; the backup is started in the chosen mode', async () => {
  const { api, s } = setup();
  assert.equal(s().backup.sectorBySector, false, 'smart is the default');
  s().backupSourceChosen('/dev/sdb');
  assert.equal(s().backup.plan?.status, 'loading');
  await settle();
  assert.deepEqual(api.calls.filter((c) => c.name === 'planBackup').map((c) => c.request), [{ device: '/dev/sdb', sectorBySector: false }]);
  assert.equal(s().backup.plan?.status, 'ready');
  assert.equal(s().backup.plan?.summary?.mode, 'used-blocks');
  assert.equal(s().backup.plan?.summary?.partitions[0]?.usedBytes, 5 * MiB);

  s().backupModeChosen(true);
  await settle();
  assert.deepEqual(api.calls.filter((c) => c.name === 'planBackup').at(-1)?.request, { device: '/dev/sdb', sectorBySector: true });
  assert.equal(s().backup.plan?.summary?.mode, 'sector-by-sector');
  s().backupModeChosen(true);
  assert.equal(api.calls.filter((c) => c.name === 'planBackup').length, 2, 'choosing the mode already chosen asks nothing');

  api.answer('startBackup', { ok: true, value: { jobId: 'b1' } });
  s().backupPathTyped('/home/me/sdb.img.zst');
  await settle();
  await s().backupRequested();
  assert.equal((api.calls.find((c) => c.name === 'startBackup')?.request as { sectorBySector?: boolean }).sectorBySector, true);
});

test('an answer for a drive no longer chosen is dropped; null means administrator rights are needed', async () => {
  const { api, s } = setup();
  const answers: ((v: StorageSummary | null) => void)[] = [];
  // Answers held back, then given out of order.
  api.planBackup = (req) => {
    api.calls.push({ name: 'planBackup', request: req });
    return new Promise((resolve) => answers.push((v) => resolve({ ok: true, value: v })));
  };
  s().backupSourceChosen('/dev/sdb');
  s().backupSourceChosen('/dev/sdc');
  answers[1]?.(null);
  await settle();
  assert.equal(s().backup.plan?.device, '/dev/sdc');
  assert.equal(s().backup.plan?.status, 'needs-admin');
  answers[0]?.(planFor(false));
  await settle();
  assert.equal(s().backup.plan?.device, '/dev/sdc', 'the late answer for /dev/sdb did not replace it');
  assert.equal(s().backup.plan?.summary, null);
});

test('restore: wipe free space is sent only for a smart backup, and only when ticked', async () => {
  const smart = planFor(false);
  const details = (storage: StorageSummary | null): BackupDetails => ({
    path: '/b/sd.img.zst', name: 'sd.img.zst', format: 'zstd', formatLabel: 'zstd', fileSize: 1e7, size: null, partitionTable: 'gpt',
    sha256: 'cd', sourceModel: null, sourceSerial: null, sourceSize: 1e8, createdAt: null, imprintVersion: '0.1.0', storage,
  });
  assert.equal(isSmartBackup(details(smart)), true);
  assert.equal(isSmartBackup(details(planFor(true))), false);
  assert.equal(isSmartBackup(details(null)), false);
  for (const [storage, tick, expected] of [[smart, true, true], [smart, false, undefined], [null, true, undefined]] as const) {
    const api = createFakeApi();
    api.answer('inspectBackup', { ok: true, value: details(storage) });
    api.answer('startRestore', { ok: true, value: { jobId: 'r1' } });
    api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
    const store = createAppStore(api);
    const s = () => store.getState();
    s().drivesChanged([fakeDrive({ device: '/dev/sdc', size: 8e9 })]);
    if (tick) s().wipeFreeSpaceToggled();
    await s().restoreBackupChosen('/b/sd.img.zst');
    s().restoreTargetToggled('/dev/sdc');
    s().restoreRequested();
    await s().restoreConfirmed();
    const req = api.calls.find((c) => c.name === 'startRestore')?.request as { wipeFreeSpace?: boolean };
    assert.equal(req.wipeFreeSpace, expected, `storage ${storage?.mode ?? 'none'}, ticked ${tick}`);
  }
});
