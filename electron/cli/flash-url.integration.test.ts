import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProgressEvent } from '../../shared/job-events';
import { MiB, SMALL_IMAGE_SIZE, pseudoRandom, sha256Of, smallImageIn, type ImageForm } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, readDirect, withLoopDevice } from '../engine/testing/loop-device';
import { TestHttpServer, type FaultPlan } from '../engine/testing/http-test-server';
import { describe, guardLog, runCli, type CliResult } from './testing/run-cli';

/**
 * `imprint flash URL` end to end: the real CLI downloads from a loopback
 * server that misbehaves as asked, and writes to real loop devices. For
 * every fault, the device ends byte-exact with the image, or the job fails
 * with the right message and the device's first MiB untouched.
 */
const LOOP_SIZE = 16 * MiB;
/** The small image (12 MiB: boot code, partition table, FAT, part of an ext4) in each form: quick on a loaded machine. */
const imageIn = smallImageIn;
const raw = (): string => smallImageIn('raw');
const OLD = pseudoRandom(LOOP_SIZE, 'old drive content');
const OLD_HEAD = OLD.subarray(0, MiB);

let server: TestHttpServer;
let cacheDir: string;
const env = (): NodeJS.ProcessEnv => ({ IMPRINT_CACHE_DIR: cacheDir, IMPRINT_DOWNLOAD_STALL_MS: '400', IMPRINT_DOWNLOAD_BACKOFF_MS: '20' });

before(async () => {
  server = await TestHttpServer.start();
  for (const form of ['raw', 'gz', 'xz', 'zst', 'bz2', 'zip'] as ImageForm[]) server.files.set(`/images/os.${form}`, fs.readFileSync(imageIn(form)));
});
after(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  fs.rmSync(cacheDir ?? '/nonexistent', { recursive: true, force: true });
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-url-cache-'));
});
after(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

async function flash(args: string[], check: (r: CliResult, device: string) => void, extraEnv: NodeJS.ProcessEnv = {}): Promise<void> {
  await withLoopDevice(
    LOOP_SIZE,
    async (loop) => {
      const r = await runCli(['flash', ...args, loop.device, '--yes', '--json'], { env: { ...env(), ...extraEnv }, timeoutMs: 120_000 });
      assert.equal(guardLog(), '', 'the engine tried to open a non-loop block device for writing');
      check(r, loop.device);
    },
    { content: OLD },
  );
}

function exact(r: CliResult, device: string): void {
  assert.equal(r.code, 0, describe(r));
  assert.equal(r.finished?.ok, true);
  assert.deepEqual(r.finished.targets.map((t) => [t.status, t.bytesWritten]), [['verified', SMALL_IMAGE_SIZE]]);
  assert.equal(firstDeviceDifference(device, raw()), -1, 'the device holds the image');
  assert.equal(r.events.filter((e) => e.type === 'job-started').length, 1, 'one job');
  assert.ok(new Set(r.events.map((e) => e.jobId)).size === 1, 'one job id throughout');
  const writing = r.events.filter((e): e is ProgressEvent => e.type === 'progress' && e.phase === 'writing');
  assert.ok(writing.length > 0 && writing.every((e) => e.bottleneck === 'network' || e.bottleneck === 'decompression' || e.bottleneck === 'drive'), 'writing progress names the slow stage');
}

/**
 * Failed with `code`, saying `says`. A download that failed wrote nothing: the
 * first MiB is what it was. One that failed its checksum while writing
 * (`written`) had its old partition tables wiped, and the image's first MiB
 * was never written: no valid-looking disk.
 */
function failedUntouched(code: string, says: RegExp, written = false): (r: CliResult, device: string) => void {
  return (r, device) => {
    assert.equal(r.code, 1, describe(r));
    assert.equal(r.error?.code, code, describe(r));
    assert.match(r.error?.message ?? '', says);
    const first = readDirect(device, 0, MiB);
    if (!written) assert.ok(first.equals(OLD_HEAD), 'the first MiB changed');
    else {
      assert.ok(!first.equals(fs.readFileSync(raw()).subarray(0, MiB)), "the image's first MiB reached the device");
      assert.notEqual(first.subarray(510, 512).toString('hex'), '55aa', 'the device looks like a valid MBR disk');
    }
  };
}

const imagePath = (form: ImageForm): string => `/images/os.${form}`;
const imageRequests = (form: ImageForm): number => server.requests.filter((r) => r.path === imagePath(form)).length;

test('every format flashes from a URL through a connection reset every quarter of the file, byte-exact', async (t) => {
  for (const form of ['raw', 'gz', 'xz', 'zst', 'bz2', 'zip'] as ImageForm[]) {
    await t.test(form, async () => {
      server.reset();
      server.faults = { resetEvery: Math.ceil(fs.statSync(imageIn(form)).size / 4) };
      await flash([server.url(imagePath(form))], (r, device) => {
        exact(r, device);
        assert.ok(imageRequests(form) > 1, 'the download was resumed');
        const downloading = r.events.filter((e): e is ProgressEvent => e.type === 'progress' && e.phase === 'downloading');
        assert.ok(downloading.length > 0 && downloading.every((e) => e.bottleneck === 'network'));
        const counted = r.events.filter((e): e is ProgressEvent => e.type === 'progress' && e.download !== undefined);
        assert.equal(counted.at(-1)?.download?.downloadedBytes, fs.statSync(imageIn(form)).size, 'the last progress counts the whole download');
      });
    });
  }
});

test('server faults: a stall, 503s, a server that ignores Range, a redirect (throttling: http-download.test.ts): the drive ends byte-exact', async (t) => {
  const cases: Array<[string, FaultPlan, string?]> = [
    ['stall', { stallAfter: 1 << 20, stallTimes: 2 }],
    ['503 then 200', { failFirst: { times: 2, status: 503 } }],
    ['ignores Range', { stallAfter: 1 << 20, stallTimes: 1, ignoreRange: true }],
    ['redirected', {}, '/latest'],
  ];
  for (const [name, faults, start] of cases) {
    await t.test(name, async () => {
      server.reset();
      server.faults = faults;
      server.redirects.set('/latest', imagePath('xz'));
      await flash([server.url(start ?? imagePath('xz'))], (r, device) => {
        exact(r, device);
        if (name === 'ignores Range') assert.ok(r.events.some((e) => e.type === 'warning' && /whole file again/.test(e.message)), describe(r));
      });
    });
  }
});

test('raw and gzip are written while they download; a download that fails or does not match then leaves the first MiB unwritten', async (t) => {
  for (const form of ['raw', 'gz'] as ImageForm[]) {
    await t.test(`${form}: written during the download`, async () => {
      server.reset();
      // About 3 s of download: bytes reach the drive well before it ends.
      server.faults = { throttle: Math.ceil(fs.statSync(imageIn(form)).size / 3) };
      await flash([server.url(imagePath(form))], (r, device) => {
        exact(r, device);
        const during = r.events.filter((e): e is ProgressEvent => e.type === 'progress' && e.phase === 'writing' && (e.download?.downloadedBytes ?? Infinity) < fs.statSync(imageIn(form)).size);
        assert.ok(during.some((e) => (e.targets[0]?.bytesWritten ?? 0) > 0), 'bytes reached the drive before the download ended');
        assert.ok(during.some((e) => e.bottleneck === 'network'), 'the network named as the slow stage');
      });
    });
  }
  await t.test('raw: a server that ignores Range sends the file again; what was written is held to it', async () => {
    server.reset();
    server.faults = { stallAfter: 5 << 20, stallTimes: 1, ignoreRange: true };
    await flash([server.url(imagePath('raw'))], exact);
  });
  await t.test('raw: the download stalls for good half-way', async () => {
    server.reset();
    server.faults = { stallAt: 6 << 20 };
    await flash([server.url(imagePath('raw')), '--give-up-after', '1.5'], failedUntouched('E_DOWNLOAD_STALLED', /made no progress/, true), { IMPRINT_DOWNLOAD_STALL_MS: '200' });
  });
  await t.test('raw: SHA256SUMS does not match', async () => {
    server.reset();
    server.files.set('/images/SHA256SUMS', Buffer.from(`${'ab'.repeat(32)}  os.raw\n`));
    try {
      await flash([server.url(imagePath('raw'))], failedUntouched('E_CHECKSUM_MISMATCH', /SHA256SUMS \(line for os\.raw\)/, true));
    } finally {
      server.files.delete('/images/SHA256SUMS');
    }
  });
});

test('download failures: the job fails with the right message, the image\'s first MiB never reaches the drive', async (t) => {
  await t.test('404', () => flash([server.url('/images/missing.img.xz')], failedUntouched('E_DOWNLOAD_FAILED', /HTTP 404/)));
  // The .xz is decoded while it downloads: its writing may have begun (old partition tables wiped) when the length fails.
  await t.test('a body shorter than announced', async () => {
    server.faults = { lengthDelta: 5000 };
    await flash([server.url(imagePath('xz'))], failedUntouched('E_DOWNLOAD_LENGTH', /shorter than announced/, true));
  });
  await t.test('a body longer than announced', async () => {
    server.faults = { lengthDelta: -5000 };
    await flash([server.url(imagePath('xz'))], failedUntouched('E_DOWNLOAD_LENGTH', /more than/, true));
  });
  await t.test('no progress for --give-up-after', async () => {
    server.faults = { stallAfter: 0, stallTimes: 1_000_000 };
    await flash([server.url(imagePath('xz')), '--give-up-after', '1.5'], failedUntouched('E_DOWNLOAD_STALLED', /made no progress for \d+ s/), { IMPRINT_DOWNLOAD_STALL_MS: '200' });
  });
});

test('checksums: a SHA256SUMS beside the file that does not match, or an extract_sha256 that does not match leaves the first MiB unwritten', async (t) => {
  await t.test('SHA256SUMS', async () => {
    server.files.set('/images/SHA256SUMS', Buffer.from(`${'ab'.repeat(32)}  os.xz\n`));
    try {
      await flash([server.url(imagePath('xz'))], failedUntouched('E_CHECKSUM_MISMATCH', new RegExp(`does not match ${server.url('/images/SHA256SUMS').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(line for os\\.xz\\)`), true));
      server.files.set('/images/SHA256SUMS', Buffer.from(`${sha256Of(imageIn('xz'))}  os.xz\n`));
      await flash([server.url(imagePath('xz'))], exact);
      // A published checksum of the file: the cache records its SHA-256, which the download computed and compared.
      const list = await runCli(['cache', 'list', '--json'], { env: env() });
      assert.deepEqual(list.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { sha256: string }).sha256), [sha256Of(imageIn('xz'))]);
    } finally {
      server.files.delete('/images/SHA256SUMS');
    }
  });
  await t.test('catalogue entry with a wrong extract_sha256', async () => {
    const entry = (name: string, sha: string): Record<string, unknown> => ({ name, description: 'test', icon: '', url: server.url(imagePath('zst')), extract_size: SMALL_IMAGE_SIZE, extract_sha256: sha, image_download_size: fs.statSync(imageIn('zst')).size, release_date: '2026-01-01' });
    const list = path.join(cacheDir, '..', `imprint-test-list-${process.pid}.json`);
    fs.writeFileSync(list, JSON.stringify({ os_list: [entry('Good OS', sha256Of(raw())), entry('Bad OS', 'cd'.repeat(32))] }));
    try {
      await flash(['--os', 'Bad OS', '--catalogue', list], failedUntouched('E_CHECKSUM_MISMATCH', /does not match .*"Bad OS" \(extract_sha256\)/, true));
      await flash(['--os', 'good os', '--catalogue', list], exact);
    } finally {
      fs.rmSync(list, { force: true });
    }
  });
});

test('cache: a verified download is flashed again without the network; an altered cached file is downloaded again', async () => {
  const url = server.url(imagePath('gz'));
  await flash([url], exact);
  assert.equal(imageRequests('gz'), 1);
  await flash([url], (r, device) => {
    exact(r, device);
    assert.ok(r.events.some((e) => e.type === 'warning' && /cached download/.test(e.message)), describe(r));
  });
  assert.equal(imageRequests('gz'), 1, 'no new request for the image');
  const list = await runCli(['cache', 'list', '--json'], { env: env() });
  const entries = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; url: string; sha256: string | null; crc32ChunkSize?: number });
  // No published checksum: the download took its chunks' CRC-32s for the record, not a SHA-256.
  assert.deepEqual(entries.map((e) => [e.url, e.sha256, e.crc32ChunkSize]), [[url, null, 4 * MiB]]);
  const fd = fs.openSync(entries[0]!.file, 'r+');
  fs.writeSync(fd, Buffer.from('x'), 0, 1, 100);
  fs.closeSync(fd);
  await flash([url], exact);
  assert.equal(imageRequests('gz'), 2, 'downloaded again');
  const cleared = await runCli(['cache', 'clear', '--json'], { env: env() });
  assert.match(cleared.stdout, /"entries":1/);
});

test('cache: a raw image written as it downloads is kept under the CRC-32s its flash took (no SHA-256 computed), reused, and dropped once altered', async () => {
  const url = server.url(imagePath('raw'));
  // A pause near the end keeps the download going while the writing starts: the image is followed, not downloaded first.
  server.faults = { pauseAt: { offset: fs.statSync(raw()).size - MiB, ms: 400 } };
  await flash([url], (r, device) => {
    exact(r, device);
    assert.equal(r.finished?.digests?.sha256, undefined, 'no SHA-256 was asked for');
  });
  const list = await runCli(['cache', 'list', '--json'], { env: env() });
  const entries = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { url: string; file: string; sha256: string | null; crc32ChunkSize?: number });
  assert.deepEqual(entries.map((e) => [e.url, e.sha256, e.crc32ChunkSize]), [[url, null, 4 * MiB]]);
  server.reset();
  await flash([url], (r, device) => {
    exact(r, device);
    assert.ok(r.events.some((e) => e.type === 'warning' && /cached download/.test(e.message)), describe(r));
  });
  assert.equal(imageRequests('raw'), 0, 'no new request for the image');
  // A published SHA-256 is computed over the cached file and held to: the right one reuses it.
  await flash([url, '--sha256', sha256Of(raw())], (r, device) => {
    exact(r, device);
    assert.ok(r.events.some((e) => e.type === 'warning' && /cached download/.test(e.message)), describe(r));
  });
  assert.equal(imageRequests('raw'), 0, 'no new request for the image');
  const fd = fs.openSync(entries[0]?.file as string, 'r+');
  fs.writeSync(fd, Buffer.from('x'), 0, 1, 5 * MiB + 3);
  fs.closeSync(fd);
  await flash([url], exact);
  assert.equal(imageRequests('raw'), 1, 'the altered file was not reused: downloaded again');
});

test('plain http to a public address is refused before anything is fetched', async () => {
  await withLoopDevice(LOOP_SIZE, async (loop) => {
    const r = await runCli(['flash', 'http://93.184.216.34/os.img.xz', loop.device, '--yes', '--json'], { env: env() });
    assert.equal(r.code, 2, describe(r));
    assert.equal(r.error?.code, 'E_URL_REFUSED');
  });
});
