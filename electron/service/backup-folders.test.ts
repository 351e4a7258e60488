import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openOrCreateFolder } from '../engine/formats/backup-folder/folder-layout';
import { ImprintService } from './imprint-service';
import { inspectBackupFolder, isFolderRef } from './backup-folders';
import { folderBackupCliArgs } from './privileged-helper';

test('inspectBackupFolder tells a new, empty, foreign or backup folder, a file, and a missing parent apart', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-folders-'));
  try {
    const made = path.join(dir, 'made');
    openOrCreateFolder(made);
    fs.mkdirSync(path.join(dir, 'empty'));
    fs.mkdirSync(path.join(dir, 'photos'));
    fs.writeFileSync(path.join(dir, 'photos', 'cat.jpg'), 'x');
    fs.writeFileSync(path.join(dir, 'file.img'), 'x');
    const state = (p: string) => inspectBackupFolder(path.join(dir, p)).state;
    assert.equal(state('made'), 'backup-folder');
    assert.deepEqual(inspectBackupFolder(made).generations, [], 'a backup folder with no generation yet');
    assert.equal(state('empty'), 'empty');
    assert.equal(state('photos'), 'foreign');
    assert.equal(state('file.img'), 'not-a-folder');
    assert.equal(state('new'), 'new');
    assert.equal(state('nowhere/new'), 'no-parent');
    assert.equal(isFolderRef(`${made}#1`), true);
    assert.equal(isFolderRef(path.join(dir, 'file.img')), false);
    // Through the service: a folder with no generation is refused as a restore source, with the engine's message.
    const service = new ImprintService({ listDrives: async () => [], drivePollMs: 60_000 });
    try {
      const r = await service.call('inspectBackup', { path: made });
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error.message, /holds no generation yet/);
    } finally {
      await service.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a backup into a folder through the privileged helper runs imprint backup --into, the folder and device as arguments', () => {
  assert.deepEqual(folderBackupCliArgs({ device: '/dev/sdb', folder: '/b/my folder' }), ['backup', '--yes', '--json', '--stdin-cancel', '--into', '/b/my folder', '--', '/dev/sdb']);
});
