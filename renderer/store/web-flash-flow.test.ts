import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageDetails } from '../../shared/ipc-contract';
import type { CatalogueImageView, CatalogueListing } from '../../shared/web-source';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { createAppStore } from './app-store';
import { bindApi } from './bind-api';
import { createFakeApi } from './fake-api';
import { flashTargetsNow } from './flash-slice';

const flush = () => new Promise((r) => setImmediate(r));
const SHA = 'AB'.repeat(32);

const ENTRY: CatalogueImageView = { kind: 'image', id: 'e7', name: 'Tiny OS', description: 'For tests', folder: ['Others'], icon: null, releaseDate: '2026-11-02', downloadSize: 1e6, extractSize: 3e9, checksum: true, url: 'https://example.org/tiny.img.xz' };

function listing(items: CatalogueListing['items'], over: Partial<CatalogueListing> = {}): CatalogueListing {
  return { source: 'https://example.org/os_list.json', sources: [{ name: 'test', source: 'https://example.org/os_list.json' }], folder: [], search: null, items, truncated: false, problems: [], ...over };
}

function setup() {
  const api = createFakeApi();
  api.answer('listDrives', { ok: true, value: [fakeDrive({ device: '/dev/sdb', size: 8e9 }), fakeDrive({ device: '/dev/sdc', size: 2e9 })] });
  api.answer('startFlashUrl', { ok: true, value: { jobId: 'job-url' } });
  api.answer('startFlashOs', { ok: true, value: { jobId: 'job-os' } });
  const store = createAppStore(api);
  bindApi(store, api);
  return { api, store };
}

test('a typed URL and SHA-256 are checked before anything is sent; a good pair becomes the image to flash', async () => {
  const { api, store } = setup();
  await flush();
  const s = () => store.getState();
  s().urlDialogOpened();
  assert.equal(s().web.dialog, 'url');
  s().urlTyped('ftp://example.org/os.img');
  s().shaTyped('xyz');
  s().urlSubmitted();
  assert.match(s().web.urlError ?? '', /not ftp/);
  assert.match(s().web.shaError ?? '', /64 hexadecimal/);
  assert.equal(s().web.chosen, null);
  s().urlTyped(' https://example.org/dl/os.img.gz ');
  s().shaTyped(SHA);
  s().urlSubmitted();
  assert.equal(s().web.dialog, null);
  assert.deepEqual(s().web.chosen, { kind: 'url', url: 'https://example.org/dl/os.img.gz', sha256: SHA.toLowerCase(), name: 'os.img.gz' });
  s().targetToggled('/dev/sdb');
  s().flashRequested();
  assert.equal(s().flash.confirming, true);
  await s().flashConfirmed();
  const call = api.calls.find((c) => c.name === 'startFlashUrl');
  assert.deepEqual(call?.request, { url: 'https://example.org/dl/os.img.gz', sha256: SHA.toLowerCase(), targets: ['/dev/sdb'], verify: true });
  assert.equal(api.calls.some((c) => c.name === 'startFlash'), false);
});

test('the catalogue is requested only when opened; folders and searches ask the service; an entry chosen is flashed by id and its size rules the drives', async () => {
  const { api, store } = setup();
  await flush();
  const s = () => store.getState();
  assert.equal(api.calls.some((c) => c.name === 'loadCatalogue'), false, 'nothing fetched at start');
  api.answer('loadCatalogue', (r) =>
    r.search ? { ok: true, value: listing([ENTRY], { search: r.search }) } : r.folder?.length ? { ok: true, value: listing([ENTRY], { folder: r.folder }) } : { ok: true, value: listing([{ kind: 'folder', name: 'Others', description: '', folder: [], icon: null }]) },
  );
  await s().catalogueOpened();
  assert.deepEqual(s().web.catalogue.listing?.items.map((i) => i.name), ['Others']);
  await s().catalogueFolderOpened(['Others']);
  assert.deepEqual(api.calls.at(-1)?.request, { source: 'https://example.org/os_list.json', folder: ['Others'] });
  await s().catalogueSearchTyped('tiny');
  assert.deepEqual(api.calls.at(-1)?.request, { source: 'https://example.org/os_list.json', search: 'tiny' });
  s().targetToggled('/dev/sdc');
  s().catalogueEntryChosen(ENTRY);
  assert.equal(s().web.chosen?.kind, 'os');
  // 3 GB does not fit the 2 GB drive: it is unchosen and cannot be chosen.
  assert.deepEqual(s().targets.selected, []);
  s().targetToggled('/dev/sdc');
  assert.deepEqual(flashTargetsNow(s()), []);
  s().targetToggled('/dev/sdb');
  s().flashRequested();
  await s().flashConfirmed();
  assert.deepEqual(api.calls.find((c) => c.name === 'startFlashOs')?.request, { entryId: 'e7', targets: ['/dev/sdb'], verify: true });
});

test('a file chosen after a web image replaces it, and the other way round', async () => {
  const { api, store } = setup();
  const image: ImageDetails = { path: '/images/os.img', name: 'os.img', format: 'raw', formatLabel: 'raw', fileSize: 1e6, size: 1e6, partitionTable: null };
  api.answer('inspectImage', { ok: true, value: image });
  api.answer('inspectLayout', { ok: false, error: { code: 'E_INTERNAL', message: 'not in this test' } });
  await flush();
  const s = () => store.getState();
  s().catalogueEntryChosen(ENTRY);
  await s().imageChosen('/images/os.img');
  assert.equal(s().web.chosen, null);
  assert.equal(s().image.details?.name, 'os.img');
  s().catalogueEntryChosen(ENTRY);
  assert.equal(s().image.details, null);
  assert.equal(s().image.pathInput, '');
});

test("a web flash's progress carries the download's counters and the slow stage into the job view", async () => {
  const { api, store } = setup();
  await flush();
  const s = () => store.getState();
  s().urlTyped('https://example.org/os.img.gz');
  s().urlSubmitted();
  s().targetToggled('/dev/sdb');
  s().flashRequested();
  await s().flashConfirmed();
  api.emitJob({ type: 'job-started', jobId: 'job-url', kind: 'flash', source: 'https://example.org/os.img.gz', targets: ['/dev/sdb'], totalBytes: null });
  const download = { downloadedBytes: 4e6, totalBytes: 6e6, attempts: 2, retrying: false, cached: false };
  api.emitJob({ type: 'progress', jobId: 'job-url', phase: 'writing', bytesDone: 3e6, totalBytes: null, bytesPerSecond: 1e6, etaSeconds: null, targets: [{ device: '/dev/sdb', status: 'writing', bytesWritten: 3e6, bytesVerified: 1e6 }], download, bottleneck: 'network' });
  assert.deepEqual(s().flash.job.download, download);
  assert.equal(s().flash.job.bottleneck, 'network');
  // A sample without a bottleneck does not keep a stale one.
  api.emitJob({ type: 'progress', jobId: 'job-url', phase: 'verifying', bytesDone: 1e6, totalBytes: 6e6, bytesPerSecond: 1e6, etaSeconds: 5, targets: [] });
  assert.equal(s().flash.job.bottleneck, null);
  assert.deepEqual(s().flash.job.download, download);
});
