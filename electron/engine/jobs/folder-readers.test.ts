import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../errors';
import { lockFolder } from '../formats/backup-folder/folder-lock';
import { READERS_DIR, holdForReading, holdFolderRef } from '../formats/backup-folder/folder-readers';
import { generationIds } from '../formats/backup-folder/generation-index';
import { sampleDrive, storeSample } from '../testing/backup-folder-samples';
import { pruneFolder } from './folder-prune';
import { prepareFolderRestore, runFolderRestore } from './folder-restore-job';
import { listFolder, verifyFolder } from './folder-verify';

/**
 * Readers and prune never overlap (folder-readers.ts): a registered reader
 * makes prune refuse, naming it; a prune's lock makes a reader refuse,
 * naming the prune; a backup's lock stops no reader; a reader that died is
 * ignored. (Across processes, with a restore and a verify stopped midway:
 * electron/cli/backup/backup-folder-readers.test.ts.)
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-readers-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function twoGenerations(name: string): string {
  const folder = path.join(root, name);
  storeSample(folder, sampleDrive(), '20261201T070000Z-000001');
  storeSample(folder, sampleDrive(), '20261202T070000Z-000002');
  return folder;
}

const busy = (pattern: RegExp) => (err: unknown) => err instanceof ImprintError && err.code === 'E_FOLDER_BUSY' && pattern.test(err.message);

test('a registered reader makes prune refuse, naming it; after it is done prune goes ahead', async () => {
  const folder = twoGenerations('reader-first');
  const hold = holdForReading(folder, `a verify of ${folder}`);
  assert.throws(() => pruneFolder(folder, { keepLast: 1 }), busy(new RegExp(`being read by Imprint process ${process.pid} on .*a verify of`)));
  assert.equal(fs.existsSync(path.join(folder, 'lock')), false, 'the refused prune released the lock');
  assert.equal(generationIds(folder).length, 2, 'and removed nothing');
  hold.release();
  assert.deepEqual(fs.readdirSync(path.join(folder, READERS_DIR)), [], 'release removes the reader file');
  const r = pruneFolder(folder, { keepLast: 1 });
  assert.deepEqual(r.removed, ['20261201T070000Z-000001']);
  assert.ok(r.piecesRemoved > 0);
  assert.equal((await verifyFolder(folder)).ok, true);
});

test("a prune's lock makes every reader refuse, naming the prune; a backup's lock stops none", async () => {
  const folder = twoGenerations('prune-first');
  const prune = lockFolder(folder, 'prune', { excludesReaders: true });
  try {
    const byPrune = busy(new RegExp(`being pruned by Imprint process ${process.pid} on .*prune`));
    assert.throws(() => listFolder(folder), byPrune);
    await assert.rejects(verifyFolder(folder), byPrune);
    assert.throws(() => holdFolderRef(`${folder}#1`, (f) => `a restore from ${f}`), byPrune);
    assert.deepEqual(fs.readdirSync(path.join(folder, READERS_DIR)), [], 'a refused reader leaves no mark');
  } finally {
    prune.release();
  }
  const backup = lockFolder(folder, 'backup of /dev/test');
  try {
    assert.equal(listFolder(folder).length, 2);
    assert.equal((await verifyFolder(folder)).ok, true);
  } finally {
    backup.release();
  }
});

test('a reader that died (its pid no longer runs) does not stop prune, and its mark is removed', () => {
  const folder = twoGenerations('dead-reader');
  // A pid that ran and exited: no process has it now (pids are not reused this quickly).
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(dead.stdout);
  assert.ok(pid > 0);
  fs.mkdirSync(path.join(folder, READERS_DIR), { recursive: true });
  const mark = path.join(folder, READERS_DIR, `${pid}.0123456789ab.json`);
  fs.writeFileSync(mark, JSON.stringify({ pid, host: os.hostname(), startedAt: new Date().toISOString(), purpose: 'a restore' }));
  // From another host it cannot be judged: prune refuses and says which file to delete.
  const foreign = path.join(folder, READERS_DIR, `${pid}.ba9876543210.json`);
  fs.writeFileSync(foreign, JSON.stringify({ pid, host: 'other-host.example', startedAt: new Date().toISOString(), purpose: 'a verify' }));
  assert.throws(() => pruneFolder(folder, { keepLast: 1 }), busy(/on other-host\.example .*delete its file in/));
  fs.rmSync(foreign);
  assert.equal(pruneFolder(folder, { keepLast: 1 }).removed.length, 1);
  assert.equal(fs.existsSync(mark), false);
});

test('a folder that is not a backup folder gets no reader mark', () => {
  const plain = path.join(root, 'plain');
  fs.mkdirSync(plain);
  assert.throws(() => holdFolderRef(plain, (f) => `a restore from ${f}`), (err) => err instanceof ImprintError && err.code === 'E_NOT_A_BACKUP');
  assert.deepEqual(fs.readdirSync(plain), []);
});

test('a generation pruned between the restore being prepared and run is refused before anything is written', async () => {
  const folder = twoGenerations('pruned-after-prepare');
  const target = path.join(root, 'pruned-after-prepare.img');
  const prepared = await prepareFolderRestore(`${folder}#1`, [target]);
  pruneFolder(folder, { keepLast: 1 });
  const events: string[] = [];
  await assert.rejects(runFolderRestore(prepared, { verify: true, onEvent: (e) => events.push(e.type) }), (err) => err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE' && err.message.includes('was removed or changed after it was chosen'));
  assert.equal(fs.existsSync(target), false, 'no target was created');
  assert.deepEqual(events, []);
  // The kept generation, prepared after the prune, restores.
  const kept = await prepareFolderRestore(`${folder}#1`, [target]);
  assert.equal(kept.index.id, '20261202T070000Z-000002');
  const done = await runFolderRestore(kept, { verify: true, onEvent: () => undefined });
  assert.equal(done.ok, true, JSON.stringify(done.error));
});

test('a verify cancelled while it reads stops with E_CANCELLED and leaves no reader mark', async () => {
  const folder = twoGenerations('verify-cancel');
  const controller = new AbortController();
  let seen = 0;
  const verifying = verifyFolder(folder, {
    signal: controller.signal,
    onProgress: () => {
      if (++seen === 3) controller.abort();
    },
  });
  await assert.rejects(verifying, (err) => err instanceof ImprintError && err.code === 'E_CANCELLED');
  assert.ok(seen >= 3, 'it had read some pieces');
  assert.deepEqual(fs.readdirSync(path.join(folder, READERS_DIR)), [], 'its reader mark is removed');
  assert.equal((await verifyFolder(folder)).ok, true, 'the folder is untouched');
});
