import { timingSafeEqual } from 'crypto';
import type { IncomingMessage } from 'http';
import { WS_API_PATH, WS_TOKEN_PARAM } from '../../shared/ws-protocol';

/**
 * Who may talk to browser mode. The server listens on 127.0.0.1 only, but
 * every local process and every web page the person visits can reach that
 * address, so:
 *  - the API needs the random token printed in the URL (other local users
 *    and web pages do not know it);
 *  - the WebSocket's Origin must be this server's own (a page elsewhere
 *    cannot borrow a tab that knows the token);
 *  - the Host header must name 127.0.0.1 or localhost on our port (DNS
 *    rebinding: evil.example resolving to 127.0.0.1 would send its own Host).
 */

/** Hosts (with port) this server answers to. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

/** Origins a page served by this server has. */
export function allowedOrigins(port: number): string[] {
  return allowedHosts(port).map((h) => `http://${h}`);
}

/** Compares secrets without leaking, through timing, how much of a guess was right. */
export function tokenMatches(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export type Verdict = { ok: true } | { ok: false; status: 403 | 404; reason: string };

/** Any request: the Host must be ours. */
export function checkHost(req: Pick<IncomingMessage, 'headers'>, port: number): Verdict {
  const host = req.headers.host;
  return host !== undefined && allowedHosts(port).includes(host) ? { ok: true } : { ok: false, status: 403, reason: `unexpected Host ${JSON.stringify(host ?? null)}` };
}

/** A WebSocket upgrade: our Host, our path, the token, and our Origin, exactly. */
export function checkUpgrade(req: Pick<IncomingMessage, 'headers' | 'url'>, port: number, token: string): Verdict {
  const host = checkHost(req, port);
  if (!host.ok) return host;
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname !== WS_API_PATH) return { ok: false, status: 404, reason: `no endpoint ${url.pathname}` };
  if (!tokenMatches(url.searchParams.get(WS_TOKEN_PARAM), token)) return { ok: false, status: 403, reason: 'missing or wrong token' };
  const origin = req.headers.origin;
  if (origin === undefined || !allowedOrigins(port).includes(origin)) return { ok: false, status: 403, reason: `origin ${JSON.stringify(origin ?? null)} is not this server` };
  return { ok: true };
}

/**
 * Headers of every HTTP answer. The CSP allows only this server's own files
 * and its WebSocket; the token sits in the page URL, so no Referer may carry it away.
 */
export function securityHeaders(port: number): Record<string, string> {
  const ws = allowedHosts(port).map((h) => `ws://${h}`).join(' ');
  return {
    'Content-Security-Policy': [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "font-src 'self'",
      `connect-src 'self' ${ws}`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      "object-src 'none'",
    ].join('; '),
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
}
