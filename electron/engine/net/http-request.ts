import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as tls from 'tls';
import { ImprintError, errnoOf } from '../errors';
import { connectTunnel, proxyFor, viaProxyOptions, type ProxySettings } from './proxy';
import { checkUrlAllowed, parseHttpUrl, redact, type UrlPolicyOptions } from './url-policy';

/** How Imprint talks HTTP: Node's http/https, TLS verified, through the user's proxy. */
export interface HttpOptions extends UrlPolicyOptions {
  proxy?: ProxySettings;
  /** Certificate authorities trusted besides the system's (a company's CA, the tests' own); verification stays on. */
  extraCa?: string | Buffer | Array<string | Buffer>;
  /** Redirects followed per request. 10: CDNs chain two or three; more is a loop. */
  maxRedirects?: number;
  /**
   * How long a request may wait for the response headers. Owner: each
   * request here. 30 s: a mirror picking a server and starting a transfer
   * answers in a second or two; a minute of silence is a dead connection.
   */
  headersTimeoutMs?: number;
  userAgent?: string;
  signal?: AbortSignal;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OpenedResponse {
  res: http.IncomingMessage;
  req: http.ClientRequest;
  /** Where the response came from, after redirects. */
  url: URL;
}

/** A certificate that does not verify: never retried, never bypassed. */
export function isTlsError(err: unknown): boolean {
  const code = errnoOf(err) ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ERR_TLS|ERR_SSL/.test(code);
}

export function tlsFailure(url: URL, err: unknown): ImprintError {
  return new ImprintError('E_DOWNLOAD_FAILED', `The certificate of ${url.host} does not verify (${errnoOf(err)}: ${(err as Error).message}). Imprint does not download from a server it cannot authenticate.`, { cause: err });
}

export function caList(extra: HttpOptions['extraCa']): Array<string | Buffer> | undefined {
  if (extra === undefined) return undefined;
  return [...tls.rootCertificates, ...(Array.isArray(extra) ? extra : [extra])];
}

/** A TLS connection to url's host over an already open socket (a proxy tunnel), verified as https.request would. */
function tlsOver(socket: net.Socket, url: URL, opts: HttpOptions): tls.TLSSocket {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return tls.connect({ socket, host, servername: net.isIP(host) ? undefined : host, ca: caList(opts.extraCa), ALPNProtocols: ['http/1.1'] });
}

/** Sends one GET (no redirects followed) and resolves with its response headers. */
async function sendOnce(url: URL, headers: Record<string, string>, opts: HttpOptions): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  const proxy = proxyFor(url, opts.proxy);
  const timeoutMs = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const all = { 'User-Agent': opts.userAgent ?? 'Imprint (disk imager)', Accept: '*/*', 'Accept-Encoding': 'identity', ...headers };
  let req: http.ClientRequest;
  if (proxy && url.protocol === 'https:') {
    const tunnel = await connectTunnel(url, proxy, timeoutMs, opts.signal);
    const secure = tlsOver(tunnel, url, opts);
    req = http.request({ host: url.hostname, port: Number(url.port || 443), path: `${url.pathname}${url.search}`, headers: { Host: url.host, ...all }, createConnection: () => secure, signal: opts.signal });
  } else if (proxy) {
    const via = viaProxyOptions(url, proxy);
    req = http.request({ ...via, agent: false, headers: { ...(via.headers as Record<string, string>), ...all }, signal: opts.signal });
  } else {
    const mod = url.protocol === 'https:' ? https : http;
    req = mod.request(url, { agent: false, headers: all, signal: opts.signal, ...(url.protocol === 'https:' ? { ca: caList(opts.extraCa) } : {}) });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`${url.host} did not answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve({ req, res });
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(isTlsError(err) ? tlsFailure(url, err) : err);
    });
    req.end();
  });
}

/**
 * GETs a URL, following redirects (bounded; https to http refused; every hop
 * checked against the URL policy). Resolves with the first response that is
 * not a redirect, whatever its status: the caller decides what a status means.
 */
export async function openUrl(start: URL | string, headers: Record<string, string>, opts: HttpOptions): Promise<OpenedResponse> {
  let url = typeof start === 'string' ? parseHttpUrl(start) : start;
  const max = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  for (let hop = 0; ; hop++) {
    await checkUrlAllowed(url, opts);
    const { req, res } = await sendOnce(url, headers, opts);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return { req, res, url };
    res.resume();
    req.destroy();
    if (hop >= max) throw new ImprintError('E_DOWNLOAD_FAILED', `${redact(url)}: more than ${max} redirects (a redirect loop?).`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new ImprintError('E_DOWNLOAD_FAILED', `${redact(url)} redirected to "${location}", which is not a valid URL.`);
    }
    next = parseHttpUrl(next.href, 'The redirect target');
    if (url.protocol === 'https:' && next.protocol === 'http:') {
      throw new ImprintError('E_URL_REFUSED', `${redact(url)} redirected to ${redact(next)}: from https to plain http. Imprint does not follow a secure download to an insecure one.`);
    }
    url = next;
  }
}

/** A whole small response body (checksum files, catalogues), refusing more than `maxBytes`. Null on 404/410. */
export async function fetchSmall(url: URL | string, maxBytes: number, opts: HttpOptions): Promise<{ body: Buffer; url: URL } | null> {
  const { req, res, url: final } = await openUrl(url, {}, opts);
  const status = res.statusCode ?? 0;
  if (status === 404 || status === 410) {
    res.resume();
    req.destroy();
    return null;
  }
  if (status !== 200) {
    res.resume();
    req.destroy();
    throw new ImprintError('E_DOWNLOAD_FAILED', `${redact(final)} answered HTTP ${status} ${res.statusMessage ?? ''}`.trim());
  }
  const announced = Number(res.headers['content-length'] ?? NaN);
  if (announced > maxBytes) {
    req.destroy();
    throw new ImprintError('E_DOWNLOAD_FAILED', `${redact(final)} is ${announced} bytes; more than the ${maxBytes} expected of it.`);
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      req.destroy();
      throw new ImprintError('E_DOWNLOAD_FAILED', `${redact(final)} is larger than the ${maxBytes} bytes expected of it.`);
    }
    parts.push(chunk);
  }
  if (!res.complete) throw new ImprintError('E_DOWNLOAD_FAILED', `${redact(final)}: the connection closed before the whole response arrived.`);
  if (!Number.isNaN(announced) && total !== announced) {
    throw new ImprintError('E_DOWNLOAD_LENGTH', `${redact(final)} announced ${announced} bytes and sent ${total}.`);
  }
  return { body: Buffer.concat(parts), url: final };
}
