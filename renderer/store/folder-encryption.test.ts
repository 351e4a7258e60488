import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupFolderInfo, GenerationSummary } from '../../shared/backup-folder-types';
import type { BackupDetails } from '../../shared/ipc-contract';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createAppStore } from './app-store';
import { bindApi } from './bind-api';
import { folderBackupEffect, folderPassphraseNeed } from './backup-folder-slice';
import { backupBlocker } from './backup-slice';
import { createFakeApi } from './fake-api';
import { folderLocked } from './restore-folder-slice';

/**
 * Encrypted backup folders in the store (issue 15): what the Back up form
 * asks for and sends, and the Restore screen's unlock step. The passphrase
 * goes out in the one request that needs it and is never in the store.
 */

const flush = () => new Promise((r) => setImmediate(r));
const PASS = 'a secret of this test';

function gen(number: number): GenerationSummary {
  return { number, id: `2026120${number}T100000Z-00000${number}`, createdAt: `2026-12-0${number}T10:00:00.000Z`, device: '/dev/sdb', model: 'Stick', serial: 'S1', size: 4e9, storedBytes: 1e9, addedBytes: 1e8, addedStoredBytes: 5e7 };
}
const folderAt = (path: string, state: BackupFolderInfo['state'], generations: GenerationSummary[] = [], encrypted?: boolean): BackupFolderInfo => ({ path, state, generations, ...(encrypted ? { encrypted } : {}) });

test('back up: a new folder may be encrypted (passphrase twice, the same); an encrypted folder asks for its own; the passphrase is sent, not stored', async () => {
  const api = createFakeApi();
  const at: Record<string, BackupFolderInfo> = { '/b/new': folderAt('/b/new', 'new'), '/b/enc': folderAt('/b/enc', 'backup-folder', [], true), '/b/plain': folderAt('/b/plain', 'backup-folder', [gen(1)]) };
  api.answer('inspectBackupFolder', (req) => ({ ok: true, value: at[req.path] ?? folderAt(req.path, 'empty') }));
  api.answer('planBackup', { ok: true, value: null });
  api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
  api.answer('startFolderBackup', { ok: true, value: { jobId: 'f1' } });
  api.answer('listDrives', { ok: true, value: [fakeDrive({ device: '/dev/sdb' })] });
  api.answer('jobSnapshots', { ok: true, value: [] });
  const store = createAppStore(api);
  const unbind = bindApi(store, api);
  after(unbind);
  const s = () => store.getState();
  s().drivesChanged([fakeDrive({ device: '/dev/sdb' })]);
  s().backupSourceChosen('/dev/sdb');
  s().backupDestinationChosen('folder');
  s().backupFolderTyped('/b/new');
  await flush();
  assert.equal(folderPassphraseNeed(s()), null, 'not encrypted unless asked');
  assert.equal(backupBlocker(s()), null);
  s().backupEncryptToggled();
  assert.equal(folderPassphraseNeed(s()), 'new');
  assert.match(backupBlocker(s()) ?? '', /Type a passphrase for the encrypted folder, twice/);
  s().backupPassphraseEdited({ typed: true, matches: false });
  assert.match(backupBlocker(s()) ?? '', /two passphrases differ/);
  s().backupPassphraseEdited({ typed: true, matches: true });
  assert.equal(backupBlocker(s()), null);
  await s().backupRequested(PASS);
  assert.deepEqual(api.calls.filter((c) => c.name === 'startFolderBackup').at(-1)?.request, { device: '/dev/sdb', folder: '/b/new', encrypt: true, passphrase: PASS });
  assert.ok(!JSON.stringify(s()).includes(PASS), 'the store holds no passphrase');

  const finish = () => api.emitJob({ type: 'job-finished', jobId: 'f1', ok: true, targets: [], bytes: 0 });
  finish();
  s().newBackupRequested();
  s().backupFolderTyped('/b/enc');
  await flush();
  assert.equal(folderPassphraseNeed(s()), 'existing');
  assert.match(folderBackupEffect(s()) ?? '', /An encrypted backup folder/);
  assert.match(backupBlocker(s()) ?? '', /encrypted: type its passphrase/);
  s().backupPassphraseEdited({ typed: true, matches: true });
  await s().backupRequested(PASS);
  assert.deepEqual(api.calls.filter((c) => c.name === 'startFolderBackup').at(-1)?.request, { device: '/dev/sdb', folder: '/b/enc', passphrase: PASS }, 'no --encrypt for a folder that exists');

  // A plain folder is sent no passphrase, whatever the form held.
  finish();
  s().newBackupRequested();
  s().backupFolderTyped('/b/plain');
  await flush();
  assert.equal(folderPassphraseNeed(s()), null);
  await s().backupRequested(PASS);
  assert.deepEqual(api.calls.filter((c) => c.name === 'startFolderBackup').at(-1)?.request, { device: '/dev/sdb', folder: '/b/plain' });
});

test('restore: an encrypted folder asks for its passphrase first; a wrong one says why and can be retried; the handle, not the passphrase, goes with the restore', async () => {
  const api = createFakeApi();
  const unlocked = folderAt('/b/enc', 'backup-folder', [gen(1), gen(2)], true);
  api.answer('inspectBackupFolder', { ok: true, value: folderAt('/b/enc', 'backup-folder', [], true) });
  api.answer('unlockBackupFolder', (req) =>
    req.passphrase === PASS ? { ok: true, value: { info: unlocked, unlock: 'a'.repeat(32) } } : { ok: false, error: { code: 'E_WRONG_PASSPHRASE', message: 'Wrong passphrase for the encrypted backup folder /b/enc.' } },
  );
  const details = (path: string): BackupDetails => ({ path, name: 'enc, generation 2', format: 'backup-folder', formatLabel: '', fileSize: 1, size: 4e9, partitionTable: null, sha256: null, sourceModel: null, sourceSerial: null, sourceSize: 4e9, createdAt: null, imprintVersion: null });
  api.answer('inspectBackup', (req) => (req.unlock ? { ok: true, value: details(req.path) } : { ok: false, error: { code: 'E_PASSPHRASE_NEEDED', message: 'type its passphrase' } }));
  api.answer('startRestore', { ok: true, value: { jobId: 'r1' } });
  api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
  const store = createAppStore(api);
  const s = () => store.getState();
  s().drivesChanged([fakeDrive({ device: '/dev/sdc', size: 8e9 })]);
  s().restoreSourceKindChosen('folder');
  await s().restoreFolderOpened('/b/enc');
  assert.equal(folderLocked(s().restoreFolder), true);
  assert.equal(s().restore.details, null);
  assert.equal(api.calls.some((c) => c.name === 'inspectBackup'), false, 'nothing of it is read before the passphrase');

  assert.equal(await s().restoreFolderUnlockRequested('nope'), false);
  assert.equal(s().restoreFolder.error?.code, 'E_WRONG_PASSPHRASE');
  assert.equal(folderLocked(s().restoreFolder), true, 'still asks');
  assert.equal(await s().restoreFolderUnlockRequested(PASS), true);
  assert.equal(folderLocked(s().restoreFolder), false);
  assert.equal(s().restoreFolder.error, null);
  assert.equal(s().restoreFolder.chosen, gen(2).id, 'the newest is chosen once listed');
  assert.deepEqual(api.calls.filter((c) => c.name === 'inspectBackup').at(-1)?.request, { path: `/b/enc#${gen(2).id}`, unlock: 'a'.repeat(32) });
  assert.ok(!JSON.stringify(s()).includes(PASS), 'the store holds no passphrase');

  s().restoreTargetToggled('/dev/sdc');
  s().restoreRequested();
  await s().restoreConfirmed();
  assert.deepEqual(api.calls.filter((c) => c.name === 'startRestore').at(-1)?.request, { backup: `/b/enc#${gen(2).id}`, targets: ['/dev/sdc'], verify: true, unlock: 'a'.repeat(32) });
  assert.equal(
    api.calls.filter((c) => JSON.stringify(c.request).includes(PASS)).map((c) => c.name).join(),
    'unlockBackupFolder',
    'the passphrase went out in the unlock request only',
  );
  // Main forgot it (the handle expired): choosing a generation asks for the passphrase again.
  api.answer('inspectBackup', { ok: false, error: { code: 'E_PASSPHRASE_NEEDED', message: 'type it again' } });
  s().newRestoreRequested();
  await s().restoreGenerationChosen(gen(1).id);
  assert.equal(folderLocked(s().restoreFolder), true);
});
