import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowseFolder } from '../../shared/browse-types';
import { treeRows } from '../inside/tree-rows';
import { createAppStore } from './app-store';
import { bindApi } from './bind-api';
import { createFakeApi } from './fake-api';

const FOLDERS: Record<string, BrowseFolder> = {
  '1:/': { where: '1:/', warnings: [], entries: [{ name: 'z.txt', kind: 'file', size: 5, mtimeMs: 0 }, { name: 'docs', kind: 'directory', size: 0, mtimeMs: null }] },
  '1:/docs': { where: '1:/docs', warnings: [], entries: [{ name: 'a.txt', kind: 'file', size: 3, mtimeMs: 0 }] },
};

function setup() {
  const api = createFakeApi();
  api.answer('browsePartitions', {
    ok: true,
    value: [
      { number: 1, size: 100, filesystem: 'iso9660', label: 'CD', problem: null, warnings: [] },
      { number: 2, size: 50, filesystem: null, label: null, problem: 'not a filesystem Imprint can read', warnings: [] },
    ],
  });
  api.answer('browseFolder', (r) => (FOLDERS[r.where] ? { ok: true, value: FOLDERS[r.where] as BrowseFolder } : { ok: false, error: { code: 'E_BAD_ARGUMENTS', message: `${r.where} does not exist.` } }));
  const store = createAppStore(api);
  return { api, store, s: () => store.getState() };
}

test('the tree: partitions, then a folder opened shows folders first, one level deeper; an unreadable partition cannot be opened or ticked', async () => {
  const { s } = setup();
  await s().insideOpened('/x.iso');
  await s().insideToggled('1:/');
  await s().insideToggled('1:/docs');
  const rows = treeRows(s().inside).map((r) => [r.where, r.level, r.expandable, r.selectable, r.parent]);
  assert.deepEqual(rows, [
    ['1:/', 1, true, true, -1],
    ['1:/docs', 2, true, true, 0],
    ['1:/docs/a.txt', 3, false, true, 1],
    ['1:/z.txt', 2, false, true, 0],
    ['2:/', 1, false, false, -1],
  ]);
  // Closing a partition closes what is open inside it.
  await s().insideToggled('1:/');
  assert.deepEqual(s().inside.expanded, []);
});

test('ticking a folder unticks what is inside it, and ticking inside a ticked folder unticks the folder', () => {
  const { s } = setup();
  s().insideSelected('1:/docs/a.txt');
  s().insideSelected('1:/z.txt');
  s().insideSelected('1:/docs');
  assert.deepEqual(s().inside.selected, ['1:/z.txt', '1:/docs']);
  s().insideSelected('1:/docs/a.txt');
  assert.deepEqual(s().inside.selected, ['1:/z.txt', '1:/docs/a.txt']);
  s().insideSelected('1:/z.txt');
  assert.deepEqual(s().inside.selected, ['1:/docs/a.txt']);
});

test('Extract asks for a full path, then follows its job by events: progress, then what was extracted', async () => {
  const { api, store, s } = setup();
  bindApi(store, api);
  await s().insideOpened('/x.iso');
  s().insideSelected('1:/z.txt');
  s().insideDestTyped('relative/dir');
  await s().insideExtractRequested();
  assert.match(s().inside.extract.error ?? '', /full path/);
  assert.equal(api.calls.filter((c) => c.name === 'startExtract').length, 0);
  api.answer('startExtract', { ok: true, value: { jobId: 'j1' } });
  s().insideDestTyped('/out');
  await s().insideExtractRequested();
  assert.deepEqual(api.calls.find((c) => c.name === 'startExtract')?.request, { source: '/x.iso', items: ['1:/z.txt'], dest: '/out' });
  api.emitJob({ type: 'progress', jobId: 'other', phase: 'copying', bytesDone: 99, totalBytes: 99, bytesPerSecond: 1, etaSeconds: 0, targets: [] });
  api.emitJob({ type: 'progress', jobId: 'j1', phase: 'copying', bytesDone: 2, totalBytes: 5, bytesPerSecond: 1, etaSeconds: 3, targets: [] });
  assert.deepEqual([s().inside.extract.bytesDone, s().inside.extract.running], [2, true]);
  const details = { kind: 'extract' as const, dest: '/out', files: 1, folders: 0, symlinks: 0, bytes: 5, problems: [], problemCount: 0 };
  api.emitJob({ type: 'job-finished', jobId: 'j1', ok: true, targets: [], bytes: 5, details });
  assert.deepEqual([s().inside.extract.running, s().inside.extract.details?.files, s().inside.extract.bytesDone], [false, 1, 5]);
});

test("an encrypted folder's generation: its unlock handle rides on every browse and extract request, and not on another source's", async () => {
  const { api, s } = setup();
  api.answer('startExtract', { ok: true, value: { jobId: 'j1' } });
  const handle = 'a'.repeat(32);
  await s().insideOpened('/b/enc#20261206T074512Z-3fa09c', handle);
  await s().insideToggled('1:/');
  s().insideSelected('1:/z.txt');
  s().insideDestTyped('/home/me/out');
  await s().insideExtractRequested();
  const browsing = api.calls.filter((c) => ['browsePartitions', 'browseFolder', 'startExtract'].includes(c.name));
  assert.deepEqual(browsing.map((c) => [c.name, (c.request as { unlock?: string }).unlock]), [
    ['browsePartitions', handle],
    ['browseFolder', handle],
    ['startExtract', handle],
  ]);
  s().insideClosed();
  await s().insideOpened('/x.iso');
  assert.equal('unlock' in (api.calls.at(-1)?.request as object), false, 'a plain source is asked for without a handle');
});

test('a handle main no longer honours: the refusal is shown and the Restore screen asks for the folder passphrase again', async () => {
  const { api, store, s } = setup();
  const handle = 'b'.repeat(32);
  store.setState((st) => ({ restoreFolder: { ...st.restoreFolder, unlock: handle, chosen: 'g' } }));
  api.answer('browsePartitions', { ok: false, error: { code: 'E_PASSPHRASE_NEEDED', message: 'Imprint no longer holds the passphrase of /b/enc: type it again.' } });
  await s().insideOpened('/b/enc#g', handle);
  assert.match(s().inside.error ?? '', /type it again/);
  assert.equal(s().restoreFolder.unlock, null, 'the folder is locked again');
  // Another refusal (not about the passphrase) leaves the folder as it is.
  store.setState((st) => ({ restoreFolder: { ...st.restoreFolder, unlock: handle } }));
  api.answer('browsePartitions', { ok: false, error: { code: 'E_CORRUPT_SOURCE', message: 'damaged' } });
  await s().insideOpened('/b/enc#g', handle);
  assert.equal(s().restoreFolder.unlock, handle);
});
