import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MiB, pseudoRandom } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, withLoopDevice, writeDirect } from '../engine/testing/loop-device';
import { TestHttpServer, type FaultPlan } from '../engine/testing/http-test-server';
import { describe, guardLog, runCli, type CliResult } from './testing/run-cli';

/**
 * An image that is mostly zeros, as an OS image is: runs of zeros of 16 MiB
 * and more, which the writer has the drive zero in the background
 * (io/zero-runs.ts) while it writes the data after them, and which the
 * download's cache file leaves as holes (net/feed-sink.ts). The drive holds
 * other data before each flash, so a run that was not really zeroed shows.
 * Flashed from a URL (plain, and with resets), then again from the cache,
 * and from the file: each time the drive must equal the image, byte for
 * byte, and the cached file too; every byte must be counted as written once.
 */
const IMAGE_SIZE = 80 * MiB;
const LOOP_SIZE = 84 * MiB;
const URL_PATH = '/images/zeros.img';

function makeImage(): Buffer {
  const data = pseudoRandom(IMAGE_SIZE, 'zero-heavy image');
  data.fill(0, 6 * MiB, 30 * MiB);
  data.fill(0, 36 * MiB, 60 * MiB);
  // A run of zeros at the end: zeroed while the job finishes, before the head is written.
  data.fill(0, 64 * MiB);
  return data;
}

let server: TestHttpServer;
let tempDir: string;
let image: Buffer;
let imageFile: string;
let cacheDir: string;
const env = (): NodeJS.ProcessEnv => ({ IMPRINT_CACHE_DIR: cacheDir, IMPRINT_DOWNLOAD_STALL_MS: '400', IMPRINT_DOWNLOAD_BACKOFF_MS: '20' });
const imageRequests = (): number => server.requests.filter((r) => r.path === URL_PATH).length;

before(async () => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-zeros-'));
  image = makeImage();
  imageFile = path.join(tempDir, 'zeros.img');
  fs.writeFileSync(imageFile, image);
  server = await TestHttpServer.start();
  server.files.set(URL_PATH, image);
});
after(async () => {
  await server.close();
  fs.rmSync(tempDir, { recursive: true, force: true });
});

/** The drive is the image, and the job counted every byte once. */
function exact(r: CliResult, device: string): void {
  assert.equal(r.code, 0, describe(r));
  assert.equal(firstDeviceDifference(device, imageFile), -1, `${device} holds the image`);
  assert.deepEqual(
    r.finished?.targets.map((t) => [t.status, t.bytesWritten, t.bytesVerified]),
    [['verified', IMAGE_SIZE, IMAGE_SIZE]],
    describe(r),
  );
}

async function flashTo(device: string, source: string): Promise<CliResult> {
  // Other data everywhere first: a run of zeros that did not reach the drive would read back as this.
  writeDirect(device, 0, pseudoRandom(LOOP_SIZE, `old data ${source} ${Date.now()}`));
  const r = await runCli(['flash', source, device, '--yes', '--json'], { env: env(), timeoutMs: 120_000 });
  assert.equal(guardLog(), '', 'the engine tried to open a non-loop block device for writing');
  return r;
}

function cachedFile(): string {
  const list = fs.readdirSync(cacheDir).filter((n) => !n.startsWith('.') && !n.endsWith('.json'));
  assert.equal(list.length, 1, list.join(', '));
  return path.join(cacheDir, list[0] as string);
}

test('a zero-heavy image from a URL: the drive and the cached file are the image; flashed again from the cache, and from the file', async (t) => {
  await withLoopDevice(LOOP_SIZE, async (loop) => {
    const cases: Array<[string, FaultPlan]> = [
      ['fast server', {}],
      ['reset every 9 MiB + 777 bytes', { resetEvery: 9 * MiB + 777 }],
    ];
    for (const [name, faults] of cases) {
      await t.test(name, async () => {
        cacheDir = fs.mkdtempSync(path.join(tempDir, 'cache-'));
        server.reset();
        server.faults = faults;
        exact(await flashTo(loop.device, server.url(URL_PATH)), loop.device);
        if (faults.resetEvery) assert.ok(imageRequests() > 5, 'the download was resumed');
        const kept = fs.readFileSync(cachedFile());
        assert.ok(kept.equals(image), 'the cached file is the image');
        // Its runs of zeros were left as holes, not written.
        assert.ok(fs.statSync(cachedFile()).blocks * 512 < IMAGE_SIZE - 32 * MiB, 'the cached file is sparse');

        server.reset();
        const again = await flashTo(loop.device, server.url(URL_PATH));
        exact(again, loop.device);
        assert.ok(again.events.some((e) => e.type === 'warning' && /cached download/.test(e.message)), describe(again));
        assert.equal(imageRequests(), 0, 'flashed from the cache: no request for the image');
      });
    }
    await t.test('from the file', async () => {
      exact(await flashTo(loop.device, imageFile), loop.device);
    });
  });
});
