import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';

/**
 * A loopback HTTP/1.1 server for the download tests, written on raw sockets
 * so it can misbehave exactly as a bad network or a bad server does: reset
 * the connection every N bytes, stall, answer 503 first, ignore Range,
 * announce a wrong length, redirect, throttle. Node's own http server would
 * correct some of these for us.
 */
export interface FaultPlan {
  /** Reset (TCP RST) each response's connection after this many body bytes. */
  resetEvery?: number;
  /** Stop sending (connection left open) after this many body bytes, in the first `stallTimes` responses. */
  stallAfter?: number;
  stallTimes?: number;
  /** Never send the file's bytes from this offset on (every response stalls there, connection open). */
  stallAt?: number;
  /** Answer the first `times` requests with `status` (503...). */
  failFirst?: { times: number; status: number };
  /** Answer every request with `status` (404...). */
  alwaysStatus?: number;
  /** Send the whole file with 200 whatever Range asks. */
  ignoreRange?: boolean;
  /** Content-Length announced = the real length + this (positive: the body is shorter than announced). */
  lengthDelta?: number;
  /** Body bytes per second (sent in tenths each 100 ms). */
  throttle?: number;
  /** No Content-Length: the body ends when the connection closes. */
  noLength?: boolean;
  /** Once, on reaching the file's byte `offset`, send nothing for `ms` (connection open), then go on: a reader following the download gets ahead of it. */
  pauseAt?: { offset: number; ms: number };
}

export interface LoggedRequest {
  path: string;
  range: string | null;
  ifRange: string | null;
  status: number;
  /** Request line target as sent (absolute-form through a proxy). */
  target: string;
}

export interface TlsMaterial {
  key: string;
  cert: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl in a temporary folder. */
export function makeTestCertificate(): TlsMaterial {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    return { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export class TestHttpServer {
  readonly files = new Map<string, Buffer>();
  /** Path -> Location (absolute, or relative to the server). */
  readonly redirects = new Map<string, string>();
  faults: FaultPlan = {};
  readonly requests: LoggedRequest[] = [];
  etag: string | null = '"v1"';
  private readonly sockets = new Set<net.Socket>();
  private served = 0;
  private stalled = 0;
  private paused = false;

  private constructor(
    private readonly server: net.Server,
    readonly secure: boolean,
  ) {}

  static async start(opts: { tls?: TlsMaterial } = {}): Promise<TestHttpServer> {
    let self: TestHttpServer | null = null;
    const onSocket = (socket: net.Socket): void => self?.accept(socket);
    const server = opts.tls ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onSocket) : net.createServer(onSocket);
    self = new TestHttpServer(server, opts.tls !== undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  /** Back to a well-behaved server with an empty log (between tests). */
  reset(): void {
    this.faults = {};
    this.requests.length = 0;
    this.redirects.clear();
    this.etag = '"v1"';
    this.served = 0;
    this.stalled = 0;
    this.paused = false;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  url(p: string): string {
    return `${this.secure ? 'https' : 'http'}://127.0.0.1:${this.port}${p}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 65536) socket.destroy();
        return;
      }
      socket.off('data', onData);
      void this.respond(socket, head.slice(0, end)).catch(() => socket.destroy());
    };
    socket.on('data', onData);
  }

  private async respond(socket: net.Socket, head: string): Promise<void> {
    const [requestLine = '', ...lines] = head.split('\r\n');
    const target = requestLine.split(' ')[1] ?? '/';
    const headers = new Map<string, string>();
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    const p = target.startsWith('http') ? new URL(target).pathname : target.split('?')[0] ?? '/';
    const log: LoggedRequest = { path: p, range: headers.get('range') ?? null, ifRange: headers.get('if-range') ?? null, status: 0, target };
    this.requests.push(log);
    const f = this.faults;
    const n = this.served++;
    const send = (status: number, reason: string, extra: Record<string, string | number>, body: Buffer | null): void => {
      log.status = status;
      const all = { Connection: 'close', ...extra };
      const text = `HTTP/1.1 ${status} ${reason}\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
      socket.write(text);
      if (body) socket.end(body);
    };
    const location = this.redirects.get(p);
    if (location) return send(302, 'Found', { Location: location, 'Content-Length': 0 }, Buffer.alloc(0));
    if (f.alwaysStatus) return send(f.alwaysStatus, 'Status', { 'Content-Length': 0 }, Buffer.alloc(0));
    if (f.failFirst && n < f.failFirst.times) return send(f.failFirst.status, 'Service Unavailable', { 'Content-Length': 0 }, Buffer.alloc(0));
    const file = this.files.get(p);
    if (!file) return send(404, 'Not Found', { 'Content-Length': 0 }, Buffer.alloc(0));

    let start = 0;
    const rangeMatch = /^bytes=(\d+)-$/.exec(log.range ?? '');
    const validatorOk = log.ifRange === null || log.ifRange === this.etag;
    const partial = rangeMatch?.[1] !== undefined && !f.ignoreRange && validatorOk;
    if (partial) {
      start = Number(rangeMatch[1]);
      if (start >= file.length) return send(416, 'Range Not Satisfiable', { 'Content-Range': `bytes */${file.length}`, 'Content-Length': 0 }, Buffer.alloc(0));
    }
    const body = file.subarray(start);
    const announced = body.length + (f.lengthDelta ?? 0);
    const hdrs: Record<string, string | number> = { 'Accept-Ranges': f.ignoreRange ? 'none' : 'bytes', 'Content-Type': 'application/octet-stream' };
    if (this.etag) hdrs.ETag = this.etag;
    if (!f.noLength) hdrs['Content-Length'] = announced;
    if (partial) hdrs['Content-Range'] = `bytes ${start}-${start + announced - 1}/${file.length + (f.lengthDelta ?? 0)}`;
    send(partial ? 206 : 200, partial ? 'Partial Content' : 'OK', hdrs, null);
    await this.sendBody(socket, body, start);
  }

  private async sendBody(socket: net.Socket, body: Buffer, start: number): Promise<void> {
    const f = this.faults;
    let stallHere = f.stallAfter !== undefined && this.stalled < (f.stallTimes ?? 1);
    if (stallHere) this.stalled++;
    let limit = Math.min(body.length, f.resetEvery ?? Infinity, stallHere ? (f.stallAfter as number) : Infinity);
    if (f.stallAt !== undefined && start + limit > f.stallAt) {
      limit = Math.max(0, f.stallAt - start);
      stallHere = true;
    }
    // Unthrottled, 1 MiB writes: the bench downloads a GiB from this server, and 64 KiB
    // writes cost it a third more CPU, taken from the flash it is measured against.
    const piece = f.throttle ? Math.max(1, Math.floor(f.throttle / 10)) : 1 << 20;
    let sent = 0;
    while (sent < limit && !socket.destroyed) {
      const pause = f.pauseAt && !this.paused && start + sent <= f.pauseAt.offset ? f.pauseAt : null;
      if (pause && start + sent === pause.offset) {
        this.paused = true;
        await new Promise((r) => setTimeout(r, pause.ms));
        continue;
      }
      const n = Math.min(piece, limit - sent, pause ? pause.offset - start - sent : Infinity);
      const ok = socket.write(body.subarray(sent, sent + n));
      sent += n;
      if (f.throttle) await new Promise((r) => setTimeout(r, 100));
      else if (!ok) await new Promise((r) => socket.once('drain', r));
    }
    if (socket.destroyed) return;
    if (sent < body.length && stallHere) return; // left open, silent: the client must notice
    if (sent < body.length) {
      socket.resetAndDestroy();
      return;
    }
    socket.end();
  }
}

/**
 * A forwarding proxy on loopback: CONNECT tunnels (https) and absolute-form
 * requests (plain http), passed through untouched. `seen` records each
 * request line, to show a download went through it.
 */
export async function startTestProxy(): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const text = head.subarray(0, end).toString('latin1');
      const [method = '', target = ''] = (text.split('\r\n')[0] ?? '').split(' ');
      seen.push(`${method} ${target}`);
      const dest = method === 'CONNECT' ? new URL(`http://${target}`) : new URL(target);
      const upstream = net.connect(Number(dest.port || 80), dest.hostname, () => {
        if (method === 'CONNECT') {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          upstream.write(head.subarray(end + 4));
        } else {
          // Origin-form for the server: rewrite the request line's target.
          upstream.write(Buffer.concat([Buffer.from(text.replace(target, `${dest.pathname}${dest.search}`) + '\r\n\r\n', 'latin1'), head.subarray(end + 4)]));
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
