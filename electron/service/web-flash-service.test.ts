import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobEvent, JobFinishedEvent } from '../../shared/job-events';
import { smallImageIn } from '../engine/testing/image-fixtures';
import { TestHttpServer } from '../engine/testing/http-test-server';
import { ImprintService, defaultCliScript } from './imprint-service';

/**
 * startFlashUrl and startFlashOs through the service, in-process and through
 * the privileged helper's command line (its elevator stood in by /usr/bin/env,
 * as imprint-service.test.ts does), onto image files: the device side of a
 * flash is the engine's tests' and the e2e specs' business.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-web-flash-service-'));
const savedCacheDir = process.env.IMPRINT_CACHE_DIR;
// The helper's CLI reads its cache folder from the environment it inherits: keep it in the test's folder.
process.env.IMPRINT_CACHE_DIR = path.join(dir, 'helper-cache');
after(() => {
  if (savedCacheDir === undefined) delete process.env.IMPRINT_CACHE_DIR;
  else process.env.IMPRINT_CACHE_DIR = savedCacheDir;
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function runJob(service: ImprintService, start: () => Promise<{ ok: boolean; value?: { jobId: string }; error?: { message: string } }>): Promise<{ finished: JobFinishedEvent; events: JobEvent[] }> {
  const events: JobEvent[] = [];
  const off = service.subscribe((e) => void (e.event === 'onJobEvent' && events.push(e.payload)));
  try {
    const r = await start();
    assert.ok(r.ok && r.value, `start failed: ${r.error?.message}`);
    const done = service.jobDone(r.value.jobId);
    assert.ok(done);
    const finished = await done;
    return { finished, events: events.filter((e) => e.jobId === r.value?.jobId) };
  } finally {
    off();
  }
}

for (const viaHelper of [false, true]) {
  test(`startFlashUrl and startFlashOs write the image ${viaHelper ? 'through the helper' : 'in-process'}; a wrong SHA-256 fails the job`, async () => {
    const raw = fs.readFileSync(smallImageIn('raw'));
    const gz = fs.readFileSync(smallImageIn('gz'));
    const xz = fs.readFileSync(smallImageIn('xz'));
    const server = await TestHttpServer.start();
    server.files.set('/os.img.gz', gz);
    server.files.set(`/os-${viaHelper}.img.xz`, xz);
    const entry = { name: `Small OS ${viaHelper}`, description: 'test', url: `os-${viaHelper}.img.xz`, extract_size: raw.length, extract_sha256: sha256(raw), image_download_size: xz.length };
    server.files.set('/os_list.json', Buffer.from(JSON.stringify({ os_list: [entry] })));
    const service = new ImprintService({
      listDrives: async () => [],
      drivePollMs: 60_000,
      log: () => {},
      web: { catalogues: [{ name: 'test', source: server.url('/os_list.json') }], http: {}, cache: null },
      ...(viaHelper ? { needsHelper: () => true, helper: { elevator: '/usr/bin/env', execPath: process.execPath, runAsNode: false, cliScript: defaultCliScript() } } : {}),
    });
    try {
      const byUrl = path.join(dir, `url-${viaHelper}.img`);
      const u = await runJob(service, () => service.call('startFlashUrl', { url: server.url('/os.img.gz'), sha256: sha256(gz), targets: [byUrl], verify: true }));
      assert.equal(u.finished.ok, true, JSON.stringify(u.finished.error));
      assert.equal(u.events.filter((e) => e.type === 'job-started').length, 1);
      assert.ok(u.events.some((e) => e.type === 'progress' && e.download !== undefined), 'progress carries the download counters');
      assert.ok(fs.readFileSync(byUrl).equals(raw), 'the file holds the image');

      const listing = await service.call('loadCatalogue', {});
      assert.ok(listing.ok);
      const item = listing.value.items[0];
      assert.ok(item?.kind === 'image');
      const byOs = path.join(dir, `os-${viaHelper}.img`);
      const o = await runJob(service, () => service.call('startFlashOs', { entryId: item.id, targets: [byOs], verify: true }));
      assert.equal(o.finished.ok, true, JSON.stringify(o.finished.error));
      assert.ok(fs.readFileSync(byOs).equals(raw), 'the file holds the catalogue image');

      const bad = path.join(dir, `bad-${viaHelper}.img`);
      const b = await runJob(service, () => service.call('startFlashUrl', { url: server.url('/os.img.gz'), sha256: 'ab'.repeat(32), targets: [bad], verify: true }));
      assert.equal(b.finished.ok, false);
      assert.equal(b.finished.error?.code, 'E_CHECKSUM_MISMATCH');
      assert.match(b.finished.error?.message ?? '', /does not match/);
    } finally {
      await service.dispose();
      await server.close();
    }
  });
}
