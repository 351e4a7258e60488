import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WsServerFrame } from '../../shared/ws-protocol';
import { WS_TOKEN_PARAM } from '../../shared/ws-protocol';
import { dispatchUntrusted } from '../service/dispatch';
import type { ImprintService } from '../service/imprint-service';
import { checkHost, checkUpgrade, securityHeaders } from './http-guard';

/**
 * Browser mode: the built renderer as static files, and the service over a
 * WebSocket (protocol in shared/ws-protocol.ts), on 127.0.0.1 only. The
 * static files are the same public bundle the app ships and hold no secret;
 * the API is what is locked (http-guard.ts).
 */

export interface WebServerOptions {
  service: ImprintService;
  /** Folder of the built renderer (out/renderer). */
  staticDir: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** A fixed token (tests); by default 32 random bytes. */
  token?: string;
}

export interface WebServer {
  port: number;
  token: string;
  /** The page to open, token included. */
  url: string;
  /** Stops accepting, closes every socket. The service is the caller's to dispose. */
  close(): Promise<void>;
}

/** The only interface listened on: browser mode is for the machine it runs on. */
export const HOST = '127.0.0.1';

/**
 * Largest frame accepted. Requests are a few paths; 1 MiB is generous and
 * stops a client from making the server buffer something huge.
 */
export const MAX_FRAME_BYTES = 1 << 20;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const root = path.resolve(opts.staticDir);
  const sockets = new Set<WebSocket>();
  let port = 0;

  const server = http.createServer((req, res) => {
    const headers = securityHeaders(port);
    const refuse = (status: number, text: string): void => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text + '\n');
    };
    const host = checkHost(req, port);
    if (!host.ok) return refuse(host.status, 'Forbidden');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, 'Method not allowed');
    const file = staticFile(root, req.url ?? '/');
    if (file === null) return refuse(404, 'Not found');
    if (file.endsWith(`${path.sep}index.html`) && !fs.existsSync(file)) return refuse(503, 'The user interface is not built yet: run `npm run build`.');
    fs.stat(file, (err, stat) => {
      if (err || !stat.isFile()) return refuse(404, 'Not found');
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': stat.size });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const verdict = checkUpgrade(req, port, token);
    if (!verdict.ok) {
      // Refused before the handshake: no WebSocket ever exists for this client.
      socket.end(`HTTP/1.1 ${verdict.status} ${verdict.status === 403 ? 'Forbidden' : 'Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws));
  });

  function serveSocket(ws: WebSocket): void {
    sockets.add(ws);
    const send = (frame: WsServerFrame): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const unsubscribe = opts.service.subscribe((event) => send(event));
    ws.on('message', (data, isBinary) => {
      void answer(data, isBinary).then(send);
    });
    ws.on('close', () => {
      unsubscribe();
      sockets.delete(ws);
    });
    ws.on('error', () => ws.terminate());
  }

  /** One call frame in, one result frame out; malformed frames get an error as data. */
  async function answer(data: unknown, isBinary: boolean): Promise<WsServerFrame> {
    const bad = (id: number, message: string): WsServerFrame => ({ id, result: { ok: false, error: { code: 'E_BAD_ARGUMENTS', message } } }) as WsServerFrame;
    if (isBinary) return bad(0, 'Frames must be JSON text.');
    let frame: unknown;
    try {
      frame = JSON.parse(String(data));
    } catch {
      return bad(0, 'A frame was not valid JSON.');
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return bad(0, 'A frame must be an object {id, call, request}.');
    const { id, call, request } = frame as { id?: unknown; call?: unknown; request?: unknown };
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) return bad(0, 'A call needs a positive integer id.');
    const extra = Object.keys(frame).filter((k) => k !== 'id' && k !== 'call' && k !== 'request');
    if (extra.length > 0) return bad(id, `A call frame has only id, call and request; it had ${extra.slice(0, 3).join(', ')}.`);
    const result = await dispatchUntrusted(opts.service, call, request);
    return { id, result } as WsServerFrame;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    port,
    token,
    url: `http://${HOST}:${port}/?${WS_TOKEN_PARAM}=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The file under `root` a URL path names, or null when it would leave root.
 * `/` is the index; the query string (the token) plays no part.
 */
export function staticFile(root: string, url: string): string | null {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://127.0.0.1').pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0')) return null;
  const relative = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '');
  const file = path.resolve(root, relative);
  return file.startsWith(root + path.sep) ? file : null;
}
