import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupOutputCheck } from '../../shared/ipc-contract';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createAppStore } from './app-store';
import { backupBlocker } from './backup-slice';
import { bindApi } from './bind-api';
import { createFakeApi } from './fake-api';

const flush = () => new Promise((r) => setImmediate(r));

/** The service's answer per path: what a real folder would hold. */
const AT: Record<string, BackupOutputCheck> = {
  '/home/me/new.img.zst': { folderExists: true, exists: false, notAFile: false },
  '/home/me/old.img.zst': { folderExists: true, exists: true, notAFile: false },
  '/nowhere/b.img.zst': { folderExists: false, exists: false, notAFile: false },
};

function setup() {
  const api = createFakeApi();
  api.answer('listDrives', { ok: true, value: [fakeDrive({ device: '/dev/sdb' })] });
  api.answer('checkBackupOutput', (r) => ({ ok: true, value: AT[r.path] ?? { folderExists: true, exists: false, notAFile: false } }));
  api.answer('startBackup', { ok: true, value: { jobId: 'b1' } });
  const store = createAppStore(api);
  bindApi(store, api);
  return { api, store };
}

test('Back up waits for a folder that exists and, for a file already there, for "Replace the existing file"', async () => {
  const { api, store } = setup();
  await flush();
  const s = () => store.getState();
  s().backupSourceChosen('/dev/sdb');
  s().backupPathTyped('/nowhere/b.img.zst');
  await flush();
  assert.match(backupBlocker(s()) ?? '', /folder \/nowhere does not exist/);
  s().backupPathTyped('/home/me/old.img.zst');
  await flush();
  assert.match(backupBlocker(s()) ?? '', /Replace the existing file/);
  s().overwriteToggled();
  assert.equal(backupBlocker(s()), null);
  s().backupPathTyped('/home/me/new.img.zst');
  await flush();
  assert.equal(s().backup.overwrite, false, 'a new path unticks "Replace"');
  assert.equal(backupBlocker(s()), null);
  await s().backupRequested();
  assert.deepEqual(api.calls.find((c) => c.name === 'startBackup')?.request, { device: '/dev/sdb', output: '/home/me/new.img.zst', compression: 'zstd', force: false, sectorBySector: false });
});

test('"Replace" reaches the service as force only for the file the form said was there', async () => {
  const { api, store } = setup();
  await flush();
  const s = () => store.getState();
  s().backupSourceChosen('/dev/sdb');
  s().backupPathTyped('/home/me/old.img.zst');
  await flush();
  s().overwriteToggled();
  await s().backupRequested();
  assert.equal((api.calls.find((c) => c.name === 'startBackup')?.request as { force?: boolean }).force, true);
});
