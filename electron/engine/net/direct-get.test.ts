import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { directGet } from './direct-get';
import { download, type DownloadSink } from './http-download';

/**
 * The download's direct path reads responses itself (direct-get.ts). These
 * responses come from a socket server that sends exactly the bytes a case
 * scripts, in the pieces it scripts: what the direct path takes it must read
 * exactly, and what it does not take (a transfer coding, a 1xx, a repeated
 * length) must reach the file through Node's client all the same.
 */
type Script = (socket: net.Socket, request: string) => void;
let script: Script = () => {};
let requests: string[] = [];
let server: net.Server;
let port = 0;

before(async () => {
  server = net.createServer((socket) => {
    let head = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      requests.push(head);
      script(socket, head);
      head = '';
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const url = (): URL => new URL(`http://127.0.0.1:${port}/os.img`);
const BODY = crypto.randomBytes((2 << 20) + 12345);

/** Sends `bytes` in pieces of `piece` bytes, one per event-loop turn, then `then` (closes by default). */
function sendSlowly(socket: net.Socket, bytes: Buffer, piece: number, then = (): void => void socket.end()): void {
  let at = 0;
  const next = (): void => {
    if (at >= bytes.length) return then();
    socket.write(bytes.subarray(at, at + piece));
    at += piece;
    setImmediate(next);
  };
  next();
}

async function downloadAll(): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink: DownloadSink = { write: (chunk) => void parts.push(Buffer.from(chunk)), restart: () => void (parts.length = 0) };
  const r = await download(url().href, sink, { stallMs: 2000, giveUpAfterMs: 5000, initialBackoffMs: 20 });
  const data = Buffer.concat(parts);
  assert.equal(r.bytes, data.length);
  assert.equal(r.sha256, crypto.createHash('sha256').update(data).digest('hex'));
  return data;
}

test('a head that arrives a few bytes at a time, then the body: read whole and exact on one connection', async () => {
  requests = [];
  script = (socket) => {
    sendSlowly(socket, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nETag: "x"\r\n\r\n`, 'latin1'), 7, () => setTimeout(() => socket.end(BODY), 50));
  };
  assert.ok((await downloadAll()).equals(BODY));
  assert.equal(requests.length, 1);
  assert.match(requests[0] ?? '', /^GET \/os\.img HTTP\/1\.1\r\n/);
  assert.match(requests[0] ?? '', /\r\nConnection: close\r\n/);
});

test('a chunked response is left to Node: asked again there, and the file arrives whole', async () => {
  requests = [];
  script = (socket) => {
    const chunks = [BODY.subarray(0, 1000), BODY.subarray(1000, 70000), BODY.subarray(70000)];
    const body = Buffer.concat([...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')]);
    socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), body]));
  };
  assert.ok((await downloadAll()).equals(BODY));
  assert.equal(requests.length, 2, 'one request on the direct path, one through Node');
});

test('what the direct path does not take resolves to null: a 1xx first, a repeated length, a redirect, a bare LF in a value', async () => {
  for (const head of ['HTTP/1.1 200 OK\r\nETag: "a\nRange: bytes=0-"\r\nContent-Length: 3\r\n\r\nabc', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 'HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n']) {
    script = (socket) => void socket.end(head);
    assert.equal(await directGet(url(), {}, {}), null, head.split('\r\n')[0]);
  }
});

test('bytes after the stated length are an error coded as a parser error, never a longer body', async () => {
  script = (socket) => void socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'), BODY.subarray(0, 1500)]));
  const opened = await directGet(url(), {}, {});
  assert.ok(opened);
  const got: Buffer[] = [];
  const error = await new Promise<Error>((resolve) => {
    opened.req.on('error', resolve);
    opened.res.on('data', (c: Buffer) => got.push(Buffer.from(c)));
  });
  assert.equal((error as NodeJS.ErrnoException).code, 'HPE_DATA_AFTER_END');
  assert.ok(Buffer.concat(got).equals(BODY.subarray(0, 1000)));
  assert.equal(opened.res.complete, true);
  opened.req.destroy();
});

test('an empty body ends at once; a body without a length ends with the connection', async () => {
  script = (socket) => void socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  assert.equal((await downloadAll()).length, 0);
  script = (socket) => sendSlowly(socket, Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), BODY]), 300_000);
  assert.ok((await downloadAll()).equals(BODY));
});
