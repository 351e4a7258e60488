import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
// The module object itself (the namespace's bindings are read-only): one test slows its writes.
import fsModule from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FeedRing } from '../io/feed-ring';
import { GrowingFile } from '../io/growing-file';
import { TestHttpServer, makeTestCertificate } from '../testing/http-test-server';
import { FeedSink } from './feed-sink';
import { download as httpDownload } from './http-download';

const CHUNK = 64 << 10;
const SLOTS = 4;

/**
 * The download's side as direct-get.ts drives it: after each read the
 * connection asks for the next read's memory (the sink may lend the ring)
 * and the next read lands there, once a pending write let it go on.
 */
async function download(sink: FeedSink, data: Buffer, from: number, sizes: () => number, between: () => void): Promise<void> {
  let lent: Buffer | null = null;
  let offset = from;
  while (offset < data.length) {
    const n = Math.min(sizes(), data.length - offset, lent ? lent.length : Infinity);
    const piece = lent ? lent.subarray(0, n) : Buffer.alloc(n);
    data.copy(piece, 0, offset, offset + n);
    const w = sink.write(piece, offset);
    // The reader's thread may free slots at any moment, also between a read and the next one's memory.
    between();
    lent = sink.receiveBuffer();
    if (w) await w;
    offset += n;
  }
}

test('a fed download lands every byte in its ring slot and in the file, whatever the reader and the socket do', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-sink-'));
  try {
    const data = crypto.randomBytes(CHUNK * 23 + 1234);
    // Runs of zeros (left as holes of the file) between random bytes, one at the very end.
    data.fill(0, CHUNK * 8, CHUNK * 12 + 100);
    data.fill(0, CHUNK * 20);
    const file = path.join(dir, 'download.part');
    const fd = fs.openSync(file, 'wx+');
    const growing = new GrowingFile();
    const sink = new FeedSink(fd, file, growing);
    // Bytes before the switch go to the file; the feed begins past the ring's first round, mid-chunk.
    const start = CHUNK * 5 + 777;
    await sink.write(data.subarray(0, start), 0);
    const spec = sink.toFeed({ bytes: SLOTS * CHUNK, chunk: CHUNK }, data.length);
    const ring = new FeedRing(spec);
    assert.equal(ring.size, SLOTS * CHUNK);

    // The reader: chunk k is whole in slot k % SLOTS once the download got past it, then its slot is freed (slowly).
    let freed = 0;
    const reader = (async () => {
      for (let k = 0; k * CHUNK < data.length; k++) {
        const end = Math.min(data.length, (k + 1) * CHUNK);
        freed = (k + SLOTS) * CHUNK;
        setTimeout(() => ring.allow(freed), 2);
        await growing.waitForAsync(end);
        const from = Math.max(k * CHUNK, start);
        if (from < end) assert.ok(ring.view(from, end - from).equals(data.subarray(from, end)), `chunk ${k} in its slot`);
        await new Promise((r) => setTimeout(r, k % 3));
      }
    })();
    let i = 0;
    const sizes = [5000, CHUNK * 2, 1, 70000, 4096, CHUNK - 3];
    await download(sink, data, start, () => sizes[i++ % sizes.length] as number, () => ring.allow(freed));
    growing.complete();
    await reader;
    sink.finish();
    await sink.drain();
    await sink.close();
    fs.closeSync(fd);
    assert.ok(fs.readFileSync(file).equals(data), 'the file holds the download');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bytes sent again from 0 are compared with the file; different bytes fail the download', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-sink-'));
  try {
    const data = crypto.randomBytes(CHUNK * 3);
    const file = path.join(dir, 'download.part');
    const fd = fs.openSync(file, 'wx+');
    const sink = new FeedSink(fd, file, new GrowingFile());
    await sink.write(data.subarray(0, 1000), 0);
    sink.toFeed({ bytes: SLOTS * CHUNK, chunk: CHUNK }, data.length);
    await sink.write(data.subarray(1000, CHUNK * 2), 1000);
    await sink.restart();
    // The same bytes again: accepted, then the download goes on past them.
    await sink.write(data.subarray(0, CHUNK * 2 + 10), 0);
    const changed = Buffer.from(data.subarray(0, 100));
    changed[50] = (changed[50] as number) ^ 1;
    await assert.rejects(Promise.resolve(sink.write(changed, 0)), /changed on the server/);
    sink.finish();
    await sink.drain();
    await sink.close();
    fs.closeSync(fd);
    assert.ok(fs.readFileSync(file).subarray(0, CHUNK * 2 + 10).equals(data.subarray(0, CHUNK * 2 + 10)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a slot is not written again before the cache file holds its bytes, however early the drives free it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-sink-'));
  // Every write of the cache file takes 3 ms more (a slow disk): the drives (here: nobody) never hold the ring.
  const realWrite = fs.write;
  const slowWrite = ((...args: unknown[]) => {
    const cb = args[args.length - 1] as (...r: unknown[]) => void;
    (realWrite as (...a: unknown[]) => void)(...args.slice(0, -1), (...r: unknown[]) => setTimeout(() => cb(...r), 3));
  }) as typeof fs.write;
  try {
    const data = crypto.randomBytes(CHUNK * 19 + 4321);
    const file = path.join(dir, 'download.part');
    const fd = fs.openSync(file, 'wx+');
    const growing = new GrowingFile();
    const sink = new FeedSink(fd, file, growing);
    await sink.write(data.subarray(0, 4096), 0);
    const ring = new FeedRing(sink.toFeed({ bytes: SLOTS * CHUNK, chunk: CHUNK }, data.length));
    fsModule.write = slowWrite;
    let i = 0;
    const sizes = [CHUNK * 3, 70000, CHUNK, 12345];
    await download(sink, data, 4096, () => sizes[i++ % sizes.length] as number, () => ring.allow(Number.MAX_SAFE_INTEGER));
    sink.finish();
    await sink.drain();
    await sink.close();
    fs.closeSync(fd);
    assert.ok(fs.readFileSync(file).equals(data), 'the file holds the download');
  } finally {
    fsModule.write = realWrite;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bytes that arrive while earlier ones still wait for room are taken after them, in order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-sink-'));
  try {
    const data = crypto.randomBytes(CHUNK * 6);
    const file = path.join(dir, 'download.part');
    const fd = fs.openSync(file, 'wx+');
    const growing = new GrowingFile();
    const sink = new FeedSink(fd, file, growing);
    const ring = new FeedRing(sink.toFeed({ bytes: SLOTS * CHUNK, chunk: CHUNK }, data.length));
    // The ring's first round, then a piece that must wait for the reader to free slot 0...
    await sink.write(data.subarray(0, SLOTS * CHUNK), 0);
    const waiting = sink.write(data.subarray(SLOTS * CHUNK, SLOTS * CHUNK + 1000), SLOTS * CHUNK);
    assert.ok(waiting instanceof Promise, 'no room yet');
    // ...and the next bytes (a new connection resumed after the first broke, while its write still waited).
    const next = sink.write(data.subarray(SLOTS * CHUNK + 1000), SLOTS * CHUNK + 1000);
    ring.allow(data.length);
    await Promise.all([waiting, next]);
    assert.equal(growing.available, data.length);
    assert.ok(ring.view(SLOTS * CHUNK, CHUNK * 2).equals(data.subarray(SLOTS * CHUNK)), 'the second round in the ring');
    sink.finish();
    await sink.drain();
    await sink.close();
    fs.closeSync(fd);
    assert.ok(fs.readFileSync(file).equals(data), 'the file holds the download');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a real download over https and over http lands in the ring and the file: the socket reads into lent ring memory', async () => {
  const certificate = makeTestCertificate();
  for (const secure of [false, true]) {
    const server = await TestHttpServer.start(secure ? { tls: certificate } : {});
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-sink-'));
    try {
      const chunk = 256 << 10;
      const data = crypto.randomBytes(chunk * 37 + 999);
      data.fill(0, chunk * 3, chunk * 9);
      server.files.set('/img', data);
      // Resets mid-chunk: each new connection starts at an offset inside a slot. Throttled, so the reader keeps
      // up and the ring has room at each read (with none, reads go to the connection's buffer and are copied).
      server.faults = { resetEvery: chunk * 5 + 4321, throttle: 64 << 20 };
      const file = path.join(dir, 'download.part');
      const fd = fs.openSync(file, 'wx+');
      const growing = new GrowingFile();
      const sink = new FeedSink(fd, file, growing);
      const ring = new FeedRing(sink.toFeed({ bytes: SLOTS * chunk, chunk }, data.length));
      let lent = 0;
      const receive = sink.receiveBuffer.bind(sink);
      sink.receiveBuffer = () => {
        const b = receive();
        if (b) lent++;
        return b;
      };
      // The reader: each chunk checked in its slot once it arrived, then its slot handed back.
      const reader = (async () => {
        for (let k = 0; k * chunk < data.length; k++) {
          const end = Math.min(data.length, (k + 1) * chunk);
          await growing.waitForAsync(end);
          assert.ok(ring.view(k * chunk, end - k * chunk).equals(data.subarray(k * chunk, end)), `chunk ${k} in its slot (${secure ? 'https' : 'http'})`);
          ring.allow((k + SLOTS + 1) * chunk);
        }
      })();
      const r = await httpDownload(server.url('/img'), sink, { extraCa: certificate.cert, stallMs: 2000, initialBackoffMs: 10 });
      growing.complete();
      await reader;
      sink.finish();
      await sink.drain();
      await sink.close();
      fs.closeSync(fd);
      assert.equal(r.bytes, data.length);
      assert.ok(lent > 0, `ring memory was lent to the socket (${secure ? 'https' : 'http'})`);
      assert.ok(fs.readFileSync(file).equals(data), 'the file holds the download');
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
