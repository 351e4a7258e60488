import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupFolderInfo, GenerationSummary } from '../../shared/backup-folder-types';
import type { BackupDetails } from '../../shared/ipc-contract';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createAppStore } from './app-store';
import { folderBackupEffect } from './backup-folder-slice';
import { backupBlocker } from './backup-slice';
import { createFakeApi } from './fake-api';
import { groupGenerations, newestGeneration } from './generation-groups';

const flush = () => new Promise((r) => setImmediate(r));

function gen(number: number, over: Partial<GenerationSummary> = {}): GenerationSummary {
  return { number, id: `2026120${number}T100000Z-00000${number}`, createdAt: `2026-12-0${number}T10:00:00.000Z`, device: '/dev/sdb', model: 'Stick', serial: 'S1', size: 4e9, storedBytes: 1e9, addedBytes: 1e8, addedStoredBytes: 5e7, ...over };
}

const folderAt = (path: string, state: BackupFolderInfo['state'], generations: GenerationSummary[] = []): BackupFolderInfo => ({ path, state, generations });

test('back up into a folder: the folder is checked as typed; what it holds decides the blocker and the line saying what happens', async () => {
  const api = createFakeApi();
  const at: Record<string, BackupFolderInfo> = {
    '/b/new': folderAt('/b/new', 'new'),
    '/nowhere/x': folderAt('/nowhere/x', 'no-parent'),
    '/home/me/photos': folderAt('/home/me/photos', 'foreign'),
    '/b/file.img': folderAt('/b/file.img', 'not-a-folder'),
    '/b/folder': folderAt('/b/folder', 'backup-folder', [gen(1), gen(2)]),
  };
  api.answer('inspectBackupFolder', (req) => ({ ok: true, value: at[req.path] ?? folderAt(req.path, 'empty') }));
  api.answer('planBackup', { ok: true, value: null });
  api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
  const store = createAppStore(api);
  const s = () => store.getState();
  s().drivesChanged([fakeDrive({ device: '/dev/sdb' })]);
  s().backupSourceChosen('/dev/sdb');
  s().backupModeChosen(true);
  s().backupDestinationChosen('folder');
  assert.equal(s().backup.sectorBySector, false, 'a backup folder stores what the filesystems use: the plan shown is the smart one');
  assert.match(backupBlocker(s()) ?? '', /backup folder/);
  const blockerFor = async (path: string) => {
    s().backupFolderTyped(path);
    await flush();
    return backupBlocker(s());
  };
  assert.match((await blockerFor('/nowhere/x')) ?? '', /\/nowhere does not exist/);
  assert.match((await blockerFor('/home/me/photos')) ?? '', /holds other files/);
  assert.match((await blockerFor('/b/file.img')) ?? '', /is a file/);
  assert.match((await blockerFor('relative/path')) ?? '', /full path/);
  assert.equal(await blockerFor('/b/new'), null);
  assert.match(folderBackupEffect(s()) ?? '', /new backup folder is created/);
  assert.equal(await blockerFor('/b/folder'), null);
  assert.match(folderBackupEffect(s()) ?? '', /2 generations: this backup adds generation 3/);
  api.answer('startFolderBackup', { ok: true, value: { jobId: 'f1' } });
  await s().backupRequested();
  assert.deepEqual(api.calls.find((c) => c.name === 'startFolderBackup')?.request, { device: '/dev/sdb', folder: '/b/folder' });
  assert.equal(api.calls.some((c) => c.name === 'startBackup'), false, 'no single-file backup is started');
  assert.equal(s().backup.job.jobId, 'f1');
});

test('back up into a folder: a drive that holds the folder cannot be the source', async () => {
  const api = createFakeApi();
  api.answer('inspectBackupFolder', (req) => ({ ok: true, value: folderAt(req.path, 'new') }));
  api.answer('planBackup', { ok: true, value: null });
  api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
  const store = createAppStore(api);
  const s = () => store.getState();
  s().drivesChanged([fakeDrive({ device: '/dev/sdb', mountpoints: ['/media/stick'] })]);
  s().backupSourceChosen('/dev/sdb');
  s().backupDestinationChosen('folder');
  s().backupFolderTyped('/media/stick/backups');
  assert.equal(s().backup.source, null, 'the drive holding the folder is unchosen');
});

test('generations are grouped by drive (by serial, whatever the device path was), newest first; damaged ones last and never preselected', () => {
  const gens = [
    gen(1),
    gen(2, { device: '/dev/sdc' }), // the same stick, plugged in elsewhere
    gen(3, { model: 'Other', serial: 'S2', device: '/dev/sdd' }),
    gen(4, { error: 'its index is damaged', createdAt: null, device: null, model: null, serial: null }),
  ];
  const groups = groupGenerations(gens);
  assert.deepEqual(groups.map((g) => g.generations.map((x) => x.number)), [[3], [2, 1], [4]]);
  assert.match(groups[0]?.label ?? '', /Other, serial S2 \(\/dev\/sdd\)/);
  assert.equal(newestGeneration(gens)?.number, 3);
  assert.equal(newestGeneration([gen(1, { error: 'x' })]), null);
  // Without a serial the device path tells drives apart.
  assert.equal(groupGenerations([gen(1, { serial: null }), gen(2, { serial: null, device: '/dev/sdc' })]).length, 2);
});

test('restore from a folder: opening it lists the generations and reads the newest; another can be picked; confirm restores that one', async () => {
  const api = createFakeApi();
  const info = folderAt('/b/folder', 'backup-folder', [gen(1), gen(2)]);
  api.answer('inspectBackupFolder', { ok: true, value: info });
  const details = (ref: string): BackupDetails => ({
    path: ref, name: 'folder, generation', format: 'backup-folder', formatLabel: 'backup folder generation', fileSize: 5e7, size: 4e9, partitionTable: 'mbr',
    sha256: 'ab', sourceModel: 'Stick', sourceSerial: 'S1', sourceSize: 4e9, createdAt: null, imprintVersion: '0.1.0', storage: { mode: 'used-blocks', storedBytes: 1e9, partitions: [] },
  });
  api.answer('inspectBackup', (req) => ({ ok: true, value: details(req.path) }));
  api.answer('startRestore', { ok: true, value: { jobId: 'r1' } });
  api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
  const store = createAppStore(api);
  const s = () => store.getState();
  s().drivesChanged([fakeDrive({ device: '/dev/sdc', size: 8e9 })]);
  s().restoreSourceKindChosen('folder');
  s().restoreFolderTyped('/b/folder');
  await s().restoreFolderSubmitted();
  assert.equal(s().restoreFolder.chosen, gen(2).id, 'the newest is preselected');
  assert.equal(s().restore.details?.path, `/b/folder#${gen(2).id}`);
  await s().restoreGenerationChosen(gen(1).id);
  assert.equal(s().restore.details?.path, `/b/folder#${gen(1).id}`);
  s().restoreTargetToggled('/dev/sdc');
  s().wipeFreeSpaceToggled();
  s().restoreRequested();
  await s().restoreConfirmed();
  assert.deepEqual(api.calls.find((c) => c.name === 'startRestore')?.request, { backup: `/b/folder#${gen(1).id}`, targets: ['/dev/sdc'], verify: true, wipeFreeSpace: true });
});

test('restore from a folder: a folder that is no backup folder, or holds nothing readable, says so; switching back to a file forgets the generation', async () => {
  const api = createFakeApi();
  const answers: Record<string, BackupFolderInfo> = { '/home/me': folderAt('/home/me', 'foreign'), '/b/empty': folderAt('/b/empty', 'backup-folder', []) };
  api.answer('inspectBackupFolder', (req) => ({ ok: true, value: answers[req.path] ?? folderAt(req.path, 'backup-folder', [gen(1)]) }));
  api.answer('inspectBackup', (req) => ({ ok: true, value: { path: req.path, name: 'g', format: 'backup-folder', formatLabel: '', fileSize: 1, size: 1, partitionTable: null, sha256: null, sourceModel: null, sourceSerial: null, sourceSize: 1, createdAt: null, imprintVersion: null } }));
  const store = createAppStore(api);
  const s = () => store.getState();
  s().restoreSourceKindChosen('folder');
  await s().restoreFolderOpened('/home/me');
  assert.match(s().restoreFolder.error?.message ?? '', /not an Imprint backup folder/);
  await s().restoreFolderOpened('/b/empty');
  assert.match(s().restoreFolder.error?.message ?? '', /no generation yet/);
  await s().restoreFolderOpened('/b/ok');
  assert.ok(s().restore.details);
  s().restoreSourceKindChosen('file');
  assert.equal(s().restore.details, null, 'a generation read in folder mode is not restored from file mode');
});
