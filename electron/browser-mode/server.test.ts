import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import type { JobEvent } from '../../shared/job-events';
import type { WsServerFrame } from '../../shared/ws-protocol';
import { apiUrlFor, isEventFrame } from '../../shared/ws-protocol';
import { OS_IMAGE_SIZE, imageIn, osImage } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, withLoopDevice } from '../engine/testing/loop-device';
import { ImprintService } from '../service/imprint-service';
import { startWebServer, staticFile, type WebServer } from './server';

async function withServer<T>(fn: (server: WebServer, service: ImprintService) => Promise<T>): Promise<T> {
  const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-web-'));
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>Imprint</title>');
  fs.writeFileSync(path.join(staticDir, 'app.js'), 'console.log(1)');
  const service = new ImprintService({ log: () => undefined });
  const server = await startWebServer({ service, staticDir });
  try {
    return await fn(server, service);
  } finally {
    await server.close();
    await service.dispose();
    fs.rmSync(staticDir, { recursive: true, force: true });
  }
}

/** Opens a WebSocket; resolves with it, or with the HTTP status that refused the upgrade. */
function connect(url: string, origin: string | undefined, headers: Record<string, string> = {}): Promise<{ ws: WebSocket } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...(origin ? { origin } : {}), headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

/** A client that numbers its calls and collects pushes, as renderer/api/ws-client.ts does. */
class Client {
  private nextId = 1;
  private readonly waiting = new Map<number, (frame: WsServerFrame) => void>();
  readonly jobEvents: JobEvent[] = [];
  private readonly jobListeners: ((e: JobEvent) => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as WsServerFrame;
      if (isEventFrame(frame)) {
        if (frame.event === 'onJobEvent') {
          this.jobEvents.push(frame.payload);
          this.jobListeners.forEach((l) => l(frame.payload));
        }
        return;
      }
      this.waiting.get(frame.id)?.(frame);
      this.waiting.delete(frame.id);
    });
  }

  /** Sends raw text; resolves with the answer carrying `id`. */
  raw(text: string | Buffer, id: number): Promise<WsServerFrame> {
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(text);
    });
  }

  call(name: string, request: unknown): Promise<WsServerFrame> {
    const id = this.nextId++;
    return this.raw(JSON.stringify({ id, call: name, request }), id);
  }

  jobFinished(jobId: string): Promise<JobEvent> {
    return new Promise((resolve) => {
      const seen = this.jobEvents.find((e) => e.type === 'job-finished' && e.jobId === jobId);
      if (seen) return resolve(seen);
      this.jobListeners.push((e) => e.type === 'job-finished' && e.jobId === jobId && resolve(e));
    });
  }
}

const ours = (s: WebServer): string => `http://127.0.0.1:${s.port}`;

test('it listens on 127.0.0.1 only and prints a URL with a long random token', async () => {
  await withServer(async (server) => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    await withServer(async (other) => assert.notEqual(other.token, server.token));
  });
});

test('the API refuses a connection without the token, with a wrong one, or on another path (HTTP 403/404, no upgrade)', async () => {
  await withServer(async (server) => {
    const base = `ws://127.0.0.1:${server.port}`;
    assert.deepEqual(await connect(`${base}/api`, ours(server)), { status: 403 });
    assert.deepEqual(await connect(`${base}/api?token=`, ours(server)), { status: 403 });
    // One character off. (A 32-byte base64url token ends in one of 16 characters, 'A' among
    // them: replacing it with a fixed 'A' left the token valid one run in 16.)
    const off = server.token.endsWith('A') ? 'B' : 'A';
    assert.deepEqual(await connect(`${base}/api?token=${server.token.slice(0, -1)}${off}`, ours(server)), { status: 403 });
    assert.deepEqual(await connect(`${base}/api?token=${server.token}x`, ours(server)), { status: 403 });
    assert.deepEqual(await connect(`${base}/other?token=${server.token}`, ours(server)), { status: 404 });
  });
});

test('the API refuses another origin, a missing origin, and a foreign Host (DNS rebinding), even with the token', async () => {
  await withServer(async (server) => {
    const url = apiUrlFor(server.url);
    assert.deepEqual(await connect(url, 'http://evil.example'), { status: 403 });
    assert.deepEqual(await connect(url, `http://127.0.0.1:${server.port + 1}`), { status: 403 });
    assert.deepEqual(await connect(url, `https://127.0.0.1:${server.port}`), { status: 403 });
    assert.deepEqual(await connect(url, 'null'), { status: 403 });
    assert.deepEqual(await connect(url, undefined), { status: 403 });
    assert.deepEqual(await connect(url, `http://evil.example:${server.port}`, { Host: `evil.example:${server.port}` }), { status: 403 });
    const viaLocalhost = await connect(url, `http://localhost:${server.port}`);
    assert.ok('ws' in viaLocalhost, 'http://localhost:PORT is this server too');
    viaLocalhost.ws.close();
  });
});

test('with the token and our origin, calls work: listDrives, bad payloads as E_BAD_ARGUMENTS, malformed frames answered', async () => {
  await withServer(async (server) => {
    const opened = await connect(apiUrlFor(server.url), ours(server));
    assert.ok('ws' in opened);
    const client = new Client(opened.ws);
    const drives = await client.call('listDrives', {});
    assert.ok(!isEventFrame(drives) && drives.result.ok && Array.isArray(drives.result.value));

    const bad = await client.call('startFlash', { image: 'relative.img', targets: ['/dev/loop99'], verify: true });
    assert.ok(!isEventFrame(bad) && !bad.result.ok);
    assert.equal(bad.result.error.code, 'E_BAD_ARGUMENTS');
    assert.match(bad.result.error.message, /image must be a full path/);

    const unknown = await client.call('formatDisk', {});
    assert.ok(!isEventFrame(unknown) && !unknown.result.ok && /Unknown call/.test(unknown.result.error.message));

    const extraKey = await client.raw(JSON.stringify({ id: 50, call: 'listDrives', request: {}, sudo: true }), 50);
    assert.ok(!isEventFrame(extraKey) && !extraKey.result.ok && extraKey.result.error.code === 'E_BAD_ARGUMENTS');

    for (const text of ['not json', '[1]', JSON.stringify({ id: -1, call: 'listDrives', request: {} }), JSON.stringify({ id: 'x', call: 'listDrives', request: {} })]) {
      const answer = await client.raw(text, 0);
      assert.ok(!isEventFrame(answer) && !answer.result.ok && answer.result.error.code === 'E_BAD_ARGUMENTS', text);
    }
    const binary = await client.raw(Buffer.from('{"id":1}'), 0);
    assert.ok(!isEventFrame(binary) && !binary.result.ok && /JSON text/.test(binary.result.error.message));

    const dialog = await client.call('chooseImage', {});
    assert.ok(!isEventFrame(dialog) && dialog.result.ok && dialog.result.value === null, 'no native dialog in browser mode');
    opened.ws.close();
  });
});

test('startFlash over the socket: a small image to a loop device, events ending in job-finished ok', async () => {
  await withServer(async (server) => {
    await withLoopDevice(OS_IMAGE_SIZE, async (loop) => {
      const opened = await connect(apiUrlFor(server.url), ours(server));
      assert.ok('ws' in opened);
      const client = new Client(opened.ws);
      const started = await client.call('startFlash', { image: imageIn('gz'), targets: [loop.device], verify: true });
      assert.ok(!isEventFrame(started) && started.result.ok, JSON.stringify(started));
      const jobId = (started.result.value as { jobId: string }).jobId;
      const finished = await client.jobFinished(jobId);
      assert.ok(finished.type === 'job-finished');
      assert.equal(finished.ok, true, JSON.stringify(finished.error));
      const mine = client.jobEvents.filter((e) => e.jobId === jobId);
      assert.equal(mine[0]?.type, 'job-started');
      assert.ok(mine.some((e) => e.type === 'progress' && e.phase === 'writing'));
      assert.ok(mine.some((e) => e.type === 'progress' && e.phase === 'verifying'));
      assert.deepEqual(finished.targets.map((t) => [t.device, t.status]), [[loop.device, 'verified']]);
      assert.equal(firstDeviceDifference(loop.device, osImage()), -1);
      opened.ws.close();
    });
  });
});

function get(server: WebServer, urlPath: string, host = `127.0.0.1:${server.port}`): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: urlPath, headers: { Host: host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('static files: served with a strict CSP and no Referer; nothing outside the folder; foreign Host refused', async () => {
  await withServer(async (server) => {
    const index = await get(server, `/?token=${server.token}`);
    assert.equal(index.status, 200);
    assert.match(index.body, /<title>Imprint<\/title>/);
    assert.match(String(index.headers['content-security-policy']), /default-src 'none'.*script-src 'self'/);
    assert.match(String(index.headers['content-security-policy']), new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${server.port} ws://localhost:${server.port};`));
    assert.equal(index.headers['referrer-policy'], 'no-referrer');
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal((await get(server, '/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await get(server, '/..%2f..%2fetc%2fpasswd')).status, 404);
    assert.equal((await get(server, '/nope.js')).status, 404);
    assert.equal((await get(server, '/', `evil.example:${server.port}`)).status, 403);
  });
});

test('staticFile keeps every path inside the folder', () => {
  const root = '/srv/ui';
  assert.equal(staticFile(root, '/'), '/srv/ui/index.html');
  assert.equal(staticFile(root, '/?token=x'), '/srv/ui/index.html');
  assert.equal(staticFile(root, '/app.js'), '/srv/ui/app.js');
  assert.equal(staticFile(root, '/../../etc/passwd'), '/srv/ui/etc/passwd', 'URL parsing folds ".." at the root');
  assert.equal(staticFile(root, '/..%2f..%2fetc%2fpasswd'), null);
  assert.equal(staticFile(root, '/%2e%2e/secret'), '/srv/ui/secret');
  assert.equal(staticFile(root, '/a%00b'), null);
  assert.equal(staticFile(root, '/%E0%A4%A'), null, 'bad percent-encoding');
});
