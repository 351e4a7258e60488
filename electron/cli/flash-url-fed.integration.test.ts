import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MiB, pseudoRandom } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, readDirect, withLoopDevices } from '../engine/testing/loop-device';
import { TestHttpServer, type FaultPlan } from '../engine/testing/http-test-server';
import { describe, guardLog, runCli, type CliResult } from './testing/run-cli';

/**
 * A raw image flashed from a URL is fed: the socket reads into the flash's
 * ring (8 slots of 4 MiB, io/feed-ring.ts) and the cache file is written
 * behind from that memory (net/feed-sink.ts). The other URL tests use a
 * 12 MiB image, which never wraps the 32 MiB ring; here the image is 2.3
 * rings long, so every slot is handed from the drives back to the download
 * twice, under each fault that moves the download against the drives:
 * resets (resume into a slot), a server that ignores Range (the file again
 * from byte 0, past the ring's first round), a download slower than the
 * drives, a pause, two drives. The drive and the cache file are compared
 * with the image itself, never with the flash's own checksums (a ring race
 * writes the same wrong bytes to the drive and into its CRCs, and its
 * verify passes).
 */
const IMAGE_SIZE = 74 * MiB - 1234;
const LOOP_SIZE = 76 * MiB;

function makeImage(): Buffer {
  const data = pseudoRandom(IMAGE_SIZE, 'fed flash image');
  // Zeros, which the cache file leaves as holes: whole 4 MiB pieces, an unaligned run, the tail.
  data.fill(0, 8 * MiB, 20 * MiB);
  data.fill(0, 41 * MiB + 5000, 45 * MiB + 3);
  data.fill(0, IMAGE_SIZE - MiB - 7);
  return data;
}

let server: TestHttpServer;
let cacheDir: string;
let image: Buffer;
let imageFile: string;
let tempDir: string;
const URL_PATH = '/images/big.img';
const env = (): NodeJS.ProcessEnv => ({ IMPRINT_CACHE_DIR: cacheDir, IMPRINT_DOWNLOAD_STALL_MS: '400', IMPRINT_DOWNLOAD_BACKOFF_MS: '20' });

before(async () => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-fed-'));
  image = makeImage();
  imageFile = path.join(tempDir, 'big.img');
  fs.writeFileSync(imageFile, image);
  server = await TestHttpServer.start();
  server.files.set(URL_PATH, image);
});
after(async () => {
  await server.close();
  fs.rmSync(tempDir, { recursive: true, force: true });
});
beforeEach(() => {
  server.reset();
  cacheDir = fs.mkdtempSync(path.join(tempDir, 'cache-'));
});

async function flash(targets: number, check: (r: CliResult, devices: string[]) => Promise<void> | void, args: string[] = []): Promise<void> {
  const old = pseudoRandom(MiB, 'old drive head');
  await withLoopDevices(
    Array.from({ length: targets }, () => ({ size: LOOP_SIZE, opts: { content: old } })),
    async (loops) => {
      const devices = loops.map((l) => l.device);
      const r = await runCli(['flash', server.url(URL_PATH), ...devices, ...args, '--yes', '--json'], { env: env(), timeoutMs: 180_000 });
      assert.equal(guardLog(), '', 'the engine tried to open a non-loop block device for writing');
      await check(r, devices);
    },
  );
}

/** Every drive holds the image, and the cache kept a file equal to it (under its real SHA-256). */
async function exactAndCached(r: CliResult, devices: string[]): Promise<void> {
  assert.equal(r.code, 0, describe(r));
  for (const d of devices) assert.equal(firstDeviceDifference(d, imageFile), -1, `${d} holds the image`);
  const list = await runCli(['cache', 'list', '--json'], { env: env() });
  const entries = list.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { file: string; sha256: string | null });
  assert.equal(entries.length, 1, list.stdout);
  // No published checksum: recorded by its chunks' CRC-32s (download-cache.ts).
  assert.equal(entries[0]?.sha256, null);
  const kept = fs.readFileSync(entries[0]?.file as string);
  assert.equal(kept.length, image.length);
  assert.ok(kept.equals(image), 'the cached file is the image');
}

test('a raw image longer than the ring flashes byte-exact from a URL, and its cache file is the image, under each fault', async (t) => {
  const cases: Array<[string, FaultPlan, number]> = [
    ['fast server', {}, 1],
    ['reset every 5 MiB + 12345 bytes (resumed into slots mid-chunk)', { resetEvery: 5 * MiB + 12345 }, 1],
    ['ignores Range, stalls once past the first ring round: the file again from byte 0', { ignoreRange: true, stallAfter: 40 * MiB + 999, stallTimes: 1 }, 1],
    ['slower than the drives (the reader waits for the download)', { throttle: 60 * MiB }, 1],
    ['a pause at 2 MiB + 5 (the feed starts early, mid-chunk)', { pauseAt: { offset: 2 * MiB + 5, ms: 300 } }, 1],
    ['two drives, reset every 7 MiB', { resetEvery: 7 * MiB }, 2],
  ];
  for (const [name, faults, targets] of cases) {
    await t.test(name, async () => {
      server.reset();
      server.faults = faults;
      await flash(targets, async (r, devices) => {
        await exactAndCached(r, devices);
        if (faults.ignoreRange) assert.ok(r.events.some((e) => e.type === 'warning' && /whole file again/.test(e.message)), describe(r));
        if (faults.resetEvery) assert.ok(server.requests.length > 5, 'the download was resumed');
      });
    });
  }
});

test('a server that ignores Range and sends other bytes the second time: the job fails, the first MiB is not the image\'s', async () => {
  const changed = Buffer.from(image);
  changed[30 * MiB + 17] = (changed[30 * MiB + 17] as number) ^ 0xff;
  const files = server.files;
  const get = files.get.bind(files);
  // The first response is the image, stopped at 40 MiB; the second (from byte 0) differs below that.
  files.get = (p: string) => (p === URL_PATH && server.requests.filter((r) => r.path === URL_PATH).length > 1 ? changed : get(p));
  try {
    server.faults = { ignoreRange: true, stallAfter: 40 * MiB, stallTimes: 1 };
    await flash(1, (r, [device]) => {
      assert.equal(r.code, 1, describe(r));
      assert.match(r.error?.message ?? '', /changed on the server/, describe(r));
      const first = readDirect(device as string, 0, MiB);
      assert.ok(!first.equals(image.subarray(0, MiB)), "the image's first MiB reached the device");
      assert.equal(server.requests.filter((q) => q.path === URL_PATH).length, 2, 'the file was sent again once');
    });
  } finally {
    files.get = get;
  }
});

test('a server that ignores Range and sends another version (new ETag) whose changes lie past what arrived: refused, not spliced', async () => {
  const changed = Buffer.from(image);
  changed[60 * MiB + 5] = (changed[60 * MiB + 5] as number) ^ 0xff;
  const files = server.files;
  const get = files.get.bind(files);
  // The second response (from byte 0, the first stopped at 40 MiB) is the new version: equal below 40 MiB, so only its ETag tells.
  files.get = (p: string) => {
    if (p !== URL_PATH || server.requests.filter((r) => r.path === URL_PATH).length < 2) return get(p);
    server.etag = '"v2"';
    return changed;
  };
  try {
    server.faults = { ignoreRange: true, stallAfter: 40 * MiB, stallTimes: 1 };
    await flash(1, (r, [device]) => {
      assert.equal(r.code, 1, describe(r));
      assert.match(r.error?.message ?? '', /changed on the server/, describe(r));
      assert.ok(!readDirect(device as string, 0, MiB).equals(image.subarray(0, MiB)), "the image's first MiB reached the device");
    });
  } finally {
    files.get = get;
  }
});
