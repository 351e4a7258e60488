import * as fs from 'fs';
import * as path from 'path';
import type { Protocol } from 'electron';
import { WINDOW_CSP } from './app-paths';

/**
 * The page is served from imprint://app/, not file://: a standard, secure
 * scheme gives the page a real origin of its own ('self' in the CSP means
 * the app's files and nothing else on the disk), and every byte the window
 * loads passes through one handler that serves only the renderer's folder.
 */
export const APP_SCHEME = 'imprint';
export const APP_HOST = 'app';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Before app 'ready' (Electron's rule): the scheme is standard (an origin, relative URLs) and secure (like https). */
export function registerAppScheme(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false, allowServiceWorkers: false, bypassCSP: false, stream: false } },
  ]);
}

/**
 * The file under `root` that `url` names, or null when it names none we
 * serve: another scheme or host, an encoded or literal `..`, a backslash or
 * NUL, or anything that resolves outside `root` (checked after decoding, so
 * `%2e%2e%2f` and `%2F` cannot climb out either).
 */
export function appFileFor(url: string, root: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST || u.username || u.password || u.port) return null;
  let rel: string;
  try {
    rel = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.includes('\\')) return null;
  const segments = rel.split('/').filter((s) => s.length > 0);
  if (segments.some((s) => s === '..' || s === '.')) return null;
  if (segments.length === 0) segments.push('index.html');
  const base = path.resolve(root);
  const file = path.resolve(base, ...segments);
  const inside = path.relative(base, file);
  if (inside.startsWith('..') || path.isAbsolute(inside) || inside === '') return null;
  return file;
}

function status(code: number, text: string): Response {
  return new Response(text, { status: code, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Security-Policy': WINDOW_CSP } });
}

/** Answers one request for the app's files: 404 for what is not ours (never a hint of what exists elsewhere). */
export async function serveAppRequest(url: string, root: string): Promise<Response> {
  const file = appFileFor(url, root);
  if (file === null) return status(404, 'Not found');
  let body: Buffer;
  try {
    body = await fs.promises.readFile(file);
  } catch {
    return status(404, 'Not found');
  }
  return new Response(new Uint8Array(body), {
    status: 200,
    headers: {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Security-Policy': WINDOW_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    },
  });
}

/** After 'ready': imprint://app/... answers from the renderer's folder, GET only. */
export function handleAppProtocol(protocol: Pick<Protocol, 'handle'>, root: string): void {
  protocol.handle(APP_SCHEME, (request) => (request.method === 'GET' ? serveAppRequest(request.url, root) : Promise.resolve(status(405, 'Method not allowed'))));
}
