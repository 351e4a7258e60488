import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as zlib from 'zlib';
import { ImprintError } from '../errors';
import { TestHttpServer, makeTestCertificate, startTestProxy, type TlsMaterial } from '../testing/http-test-server';
import { DownloadDigest, download, type DownloadEvent, type DownloadOptions, type DownloadSink } from './http-download';

/** Collects what the downloader writes, checking it arrives in order. */
class MemorySink implements DownloadSink {
  parts: Buffer[] = [];
  length = 0;
  restarts = 0;
  write(chunk: Buffer, offset: number): void {
    assert.equal(offset, this.length, 'bytes arrive in order');
    this.parts.push(Buffer.from(chunk));
    this.length += chunk.length;
  }
  restart(): void {
    this.parts = [];
    this.length = 0;
    this.restarts++;
  }
  get data(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const FILE = crypto.randomBytes(3 << 20);
const SHA = crypto.createHash('sha256').update(FILE).digest('hex');
let server: TestHttpServer;
let certificate: TlsMaterial;
const fast: DownloadOptions = { stallMs: 400, giveUpAfterMs: 5000, initialBackoffMs: 20, maxBackoffMs: 100 };

before(async () => {
  server = await TestHttpServer.start();
  server.files.set('/os.img', FILE);
  certificate = makeTestCertificate();
});
after(() => server.close());
beforeEach(() => server.reset());

async function fetchAll(opts: DownloadOptions = {}, url = server.url('/os.img')): Promise<{ sink: MemorySink; events: DownloadEvent[]; sha256: string }> {
  const sink = new MemorySink();
  const events: DownloadEvent[] = [];
  const r = await download(url, sink, { ...fast, ...opts, onEvent: (e) => events.push(e) });
  assert.equal(r.bytes, sink.length);
  assert.ok(r.sha256, 'the download hashes what it received');
  return { sink, events, sha256: r.sha256 };
}

function assertExact(sink: MemorySink, sha256: string): void {
  assert.equal(sink.length, FILE.length);
  assert.ok(sink.data.equals(FILE), 'the bytes are the file');
  assert.equal(sha256, SHA);
}

test('a clean download is byte-exact, on one connection, and counts its progress', async () => {
  const progress = { downloaded: 0, total: null, attempts: 0, retrying: false };
  const { sink, sha256, events } = await fetchAll({ progress });
  assertExact(sink, sha256);
  assert.deepEqual(progress, { downloaded: FILE.length, total: FILE.length, attempts: 1, retrying: false });
  assert.equal(events.length, 0);
});

test('a connection reset every 512 KiB is resumed from the last byte received, with If-Range', async () => {
  server.faults = { resetEvery: 512 << 10 };
  const { sink, sha256, events } = await fetchAll();
  assertExact(sink, sha256);
  // A reset drops what was still in flight, so each resume starts at or before the 512 KiB mark it was cut at.
  const starts = server.requests.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r.range ?? '')?.[1]));
  assert.ok(starts.length >= 5, `${starts.length} resumes`);
  starts.forEach((s, i) => assert.ok(s > (starts[i - 1] ?? 0) && s - (starts[i - 1] ?? 0) <= 512 << 10, `resume ${i} at ${s}`));
  assert.ok(server.requests.slice(1).every((r) => r.ifRange === '"v1"'));
  assert.equal(events.filter((e) => e.type === 'retry').length, starts.length);
});

test('a stalled connection is dropped after the stall time and resumed', async () => {
  server.faults = { stallAfter: 300_000, stallTimes: 2 };
  const { sink, sha256, events } = await fetchAll();
  assertExact(sink, sha256);
  assert.deepEqual(server.requests.map((r) => r.range), [null, 'bytes=300000-', 'bytes=600000-']);
  assert.match((events[0] as { reason: string }).reason, /no data for/);
});

test('a connection that delivered a MiB or more before it broke is resumed at once; one that delivered less backs off', async () => {
  const delays = (events: DownloadEvent[]): number[] => events.filter((e) => e.type === 'retry').map((e) => (e as { delayMs: number }).delayMs);
  server.faults = { stallAfter: 3 << 19, stallTimes: 1 };
  const quick = await fetchAll({ initialBackoffMs: 2000, maxBackoffMs: 2000 });
  assertExact(quick.sink, quick.sha256);
  assert.deepEqual(delays(quick.events), [0]);
  server.reset();
  server.faults = { stallAfter: 300_000, stallTimes: 2 };
  const slow = await fetchAll();
  assertExact(slow.sink, slow.sha256);
  // Each drop came after some progress, which starts the backoff over at its first step.
  assert.deepEqual(delays(slow.events), [20, 20]);
});

test('503 answers are retried with backoff until the server serves the file', async () => {
  server.faults = { failFirst: { times: 3, status: 503 } };
  const { sink, sha256, events } = await fetchAll();
  assertExact(sink, sha256);
  const retries = events.filter((e) => e.type === 'retry') as Array<{ delayMs: number; reason: string }>;
  assert.equal(retries.length, 3);
  assert.deepEqual(retries.map((r) => r.delayMs), [20, 40, 80]);
  assert.match(retries[0]?.reason ?? '', /HTTP 503/);
});

test('a server that ignores Range sends the file again: the download starts over, with a warning', async () => {
  server.faults = { stallAfter: 1 << 20, stallTimes: 1, ignoreRange: true };
  const { sink, sha256, events } = await fetchAll();
  assertExact(sink, sha256);
  assert.equal(sink.restarts, 1);
  assert.ok(events.some((e) => e.type === 'warning' && /whole file again/.test(e.message)));
});

test('a file replaced on the server (new ETag) starts over instead of splicing two files', async () => {
  server.faults = { stallAfter: 1 << 20, stallTimes: 1 };
  const sink = new MemorySink();
  const p = download(server.url('/os.img'), sink, { ...fast, onEvent: (e) => e.type === 'retry' && (server.etag = '"v2"') });
  const r = await p;
  assert.equal(sink.restarts, 1);
  assert.equal(r.sha256, SHA);
});

test('a body shorter than its Content-Length is an error, never a pass', async () => {
  server.faults = { lengthDelta: 1000 };
  await assert.rejects(fetchAll(), (err: ImprintError) => err.code === 'E_DOWNLOAD_LENGTH' && /shorter than announced/.test(err.message));
});

test('a body longer than its Content-Length is an error, never a pass', async () => {
  server.faults = { lengthDelta: -1000 };
  await assert.rejects(fetchAll(), (err: ImprintError) => err.code === 'E_DOWNLOAD_LENGTH' && /more than/.test(err.message));
});

test('a size other than the catalogue promised is an error', async () => {
  await assert.rejects(fetchAll({ expectedSize: FILE.length + 1 }), (err: ImprintError) => err.code === 'E_DOWNLOAD_LENGTH' && /catalogue says/.test(err.message));
});

test('a body without a length ends with the connection, and is taken whole', async () => {
  server.faults = { noLength: true };
  const { sink, sha256 } = await fetchAll();
  assertExact(sink, sha256);
});

test('redirects are followed; a loop is refused by count', async () => {
  server.redirects.set('/latest', '/mirror/os.img');
  server.redirects.set('/mirror/os.img', server.url('/os.img'));
  const { sink, sha256 } = await fetchAll({}, server.url('/latest'));
  assertExact(sink, sha256);
  server.redirects.set('/a', '/b');
  server.redirects.set('/b', '/a');
  await assert.rejects(fetchAll({ maxRedirects: 5 }, server.url('/a')), (err: ImprintError) => err.code === 'E_DOWNLOAD_FAILED' && /more than 5 redirects/.test(err.message));
});

test('404 fails at once, naming the status; it is not retried', async () => {
  await assert.rejects(fetchAll({}, server.url('/missing.img')), (err: ImprintError) => err.code === 'E_DOWNLOAD_FAILED' && /HTTP 404/.test(err.message));
  assert.equal(server.requests.length, 1);
});

test('a throttled server is slow, not stalled: the download completes on one connection', async () => {
  const small = crypto.randomBytes(200_000);
  server.files.set('/slow.img', small);
  server.faults = { throttle: 1 << 20 };
  const sink = new MemorySink();
  await download(server.url('/slow.img'), sink, { ...fast, stallMs: 2000 });
  assert.ok(sink.data.equals(small));
  assert.equal(server.requests.length, 1);
});

test('no progress for the give-up time fails the download and says so plainly', async () => {
  server.faults = { stallAfter: 100_000, stallTimes: 1000 };
  const sink = new MemorySink();
  // After the first 100,000 bytes every response sends its headers and then nothing.
  const deaf = (): void => void (server.faults = { stallAfter: 0, stallTimes: 1000 });
  await assert.rejects(download(server.url('/os.img'), sink, { ...fast, stallMs: 150, giveUpAfterMs: 900, onEvent: deaf }), (err: ImprintError) => {
    assert.equal(err.code, 'E_DOWNLOAD_STALLED');
    assert.match(err.message, /made no progress for \d+ s \(100000 of 3145728 bytes received/);
    return true;
  });
});

test('cancelling stops the download between retries', async () => {
  server.faults = { failFirst: { times: 1000, status: 503 } };
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(download(server.url('/os.img'), new MemorySink(), { ...fast, initialBackoffMs: 50, signal: ac.signal }), (err: ImprintError) => err.code === 'E_CANCELLED');
});

test('https: verified against the trusted CA; an unknown certificate is refused, and https -> http redirects too', async () => {
  const secure = await TestHttpServer.start({ tls: certificate });
  try {
    secure.files.set('/os.img', FILE);
    const { sink, sha256 } = await fetchAll({ extraCa: certificate.cert }, secure.url('/os.img'));
    assertExact(sink, sha256);
    await assert.rejects(fetchAll({}, secure.url('/os.img')), (err: ImprintError) => err.code === 'E_DOWNLOAD_FAILED' && /does not verify/.test(err.message));
    secure.redirects.set('/down', server.url('/os.img'));
    await assert.rejects(fetchAll({ extraCa: certificate.cert }, secure.url('/down')), (err: ImprintError) => err.code === 'E_URL_REFUSED' && /from https to plain http/.test(err.message));
  } finally {
    await secure.close();
  }
});

test('proxies: https through CONNECT (TLS end to end), http in absolute form, NO_PROXY bypasses', async () => {
  const proxy = await startTestProxy();
  const secure = await TestHttpServer.start({ tls: certificate });
  try {
    secure.files.set('/os.img', FILE);
    const viaTunnel = await fetchAll({ extraCa: certificate.cert, proxy: { httpsProxy: proxy.url } }, secure.url('/os.img'));
    assertExact(viaTunnel.sink, viaTunnel.sha256);
    assert.deepEqual(proxy.seen, [`CONNECT 127.0.0.1:${secure.port}`]);
    server.faults = { resetEvery: 1 << 20 };
    const viaProxy = await fetchAll({ proxy: { httpProxy: proxy.url } });
    assertExact(viaProxy.sink, viaProxy.sha256);
    assert.equal(proxy.seen[1], `GET ${server.url('/os.img')}`);
    assert.ok(proxy.seen.length >= 4, 'each resume went through the proxy');
    const through = proxy.seen.length;
    await fetchAll({ proxy: { httpProxy: proxy.url, noProxy: 'example.org, 127.0.0.1' } });
    assert.equal(proxy.seen.length, through, 'NO_PROXY: straight to the server');
  } finally {
    await secure.close();
    await proxy.close();
  }
});

test("CRC-32s instead of the SHA-256 (no published checksum): each 4 MiB chunk's, through resets and a restart from byte 0", async () => {
  const file = crypto.randomBytes((9 << 20) + 321);
  file.fill(0, 1 << 20, 6 << 20);
  server.files.set('/crc.img', file);
  // The CRCs as the flash's hasher takes them (zlib's, per chunk, the last one short), computed here independently.
  const expected: number[] = [];
  for (let at = 0; at < file.length; at += 4 << 20) expected.push(zlib.crc32(file.subarray(at, at + (4 << 20))) >>> 0);
  for (const faults of [{ resetEvery: 1_500_000 }, { ignoreRange: true, stallAfter: 5 << 20, stallTimes: 1 }]) {
    server.reset();
    server.faults = faults;
    const sink = new MemorySink();
    const r = await download(server.url('/crc.img'), sink, { ...fast, digest: new DownloadDigest('crc32') });
    assert.ok(sink.data.equals(file));
    assert.equal(r.sha256, null, 'no SHA-256 taken');
    assert.deepEqual(r.crc32, { chunkSize: 4 << 20, crcs: expected });
  }
  server.files.delete('/crc.img');
});

test('a restart from byte 0 says whether the file changed: its ETag differs from the first response\'s', async () => {
  for (const etag of ['"v1"', '"v2"']) {
    server.reset();
    server.faults = { ignoreRange: true, stallAfter: 1 << 20, stallTimes: 1 };
    const files = server.files;
    const get = files.get.bind(files);
    files.get = (p: string) => {
      if (server.requests.length > 1) server.etag = etag;
      return get(p);
    };
    const told: boolean[] = [];
    const sink = new MemorySink();
    const restart = sink.restart.bind(sink);
    sink.restart = (changed?: boolean) => {
      told.push(changed === true);
      restart();
    };
    try {
      await download(server.url('/os.img'), sink, fast);
    } finally {
      files.get = get;
    }
    assert.ok(sink.data.equals(FILE));
    assert.deepEqual(told, [etag !== '"v1"']);
  }
});
