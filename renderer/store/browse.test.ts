import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FolderListing, ImageDetails } from '../../shared/ipc-contract';
import { createAppStore } from './app-store';
import { folderOf } from './browse-slice';
import { createFakeApi } from './fake-api';

const FOLDERS: Record<string, FolderListing> = {
  '/': { path: '/', parent: null, entries: [{ name: 'images', folder: true, size: null }], truncated: false },
  '/images': { path: '/images', parent: '/', entries: [{ name: 'os.img', folder: false, size: 10 }], truncated: false },
};

test('browser mode: "Choose image…" browses folders through the service and uses the file picked', async () => {
  const api = createFakeApi();
  api.answer('listFolder', (r) => (FOLDERS[r.path] ? { ok: true, value: FOLDERS[r.path] as FolderListing } : { ok: false, error: { code: 'E_SOURCE_NOT_FOUND', message: `${r.path} does not exist.` } }));
  const image: ImageDetails = { path: '/images/os.img', name: 'os.img', format: 'raw', formatLabel: 'raw image', fileSize: 10, size: 10, partitionTable: null };
  api.answer('inspectImage', { ok: true, value: image });
  const store = createAppStore(api);
  const s = () => store.getState();
  s().imagePathTyped('/gone/x.img');
  await s().imageChooseRequested();
  assert.equal(s().browse.for, 'image');
  assert.equal(s().browse.listing?.path, '/', 'a folder that is gone: start at the top');
  assert.equal(api.calls.some((c) => c.name === 'chooseImage'), false, 'no native dialog is asked for');
  await s().browseFolderOpened('/images');
  await s().browseFileChosen('os.img');
  assert.equal(s().browse.for, null, 'closed');
  assert.equal(s().image.details?.path, '/images/os.img');
});

test('the browser opens in the folder of the path typed', () => {
  assert.equal(folderOf('/home/me/os.img'), '/home/me');
  assert.equal(folderOf('/os.img'), '/');
  assert.equal(folderOf('os.img'), '/');
});

test('listings that answer late or out of order: a folder typed meanwhile is kept, and the folder opened last is shown', async () => {
  const api = createFakeApi();
  const pending = new Map<string, () => void>();
  api.answer('listFolder', (r) => new Promise((resolve) => {
    const listing = FOLDERS[r.path] as FolderListing;
    pending.set(r.path, () => resolve({ ok: true, value: listing }));
  }));
  const store = createAppStore(api);
  const s = () => store.getState();
  // The start folder answers after the user typed another: the typing stays.
  const opening = s().browseOpened('image', '');
  s().browseFolderTyped('/images');
  pending.get('/')?.();
  await opening;
  assert.equal(s().browse.listing?.path, '/');
  assert.equal(s().browse.folderInput, '/images', 'the answer does not overwrite what the user typed');
  // Two requests, answered in reverse: the older answer is dropped.
  pending.clear();
  const first = s().browseFolderOpened('/');
  const second = s().browseFolderOpened('/images');
  pending.get('/images')?.();
  await second;
  pending.get('/')?.();
  await first;
  assert.equal(s().browse.listing?.path, '/images', 'the older answer for "/" does not replace the newer listing');
  assert.equal(s().browse.folderInput, '/images');
  assert.equal(s().browse.loading, false);
});
