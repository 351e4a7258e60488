import * as http from 'http';
import * as net from 'net';
import { ImprintError } from '../errors';

/**
 * Proxy settings as the user's environment states them (HTTPS_PROXY,
 * HTTP_PROXY, NO_PROXY, read once at the CLI or service edge and passed in).
 */
export interface ProxySettings {
  httpsProxy?: string | null;
  httpProxy?: string | null;
  noProxy?: string | null;
}

/** Reads the usual variables, upper or lower case (curl's and wget's convention), at the edge. */
export function proxySettingsFromEnv(env: NodeJS.ProcessEnv): ProxySettings {
  const get = (name: string): string | null => env[name] ?? env[name.toLowerCase()] ?? null;
  return { httpsProxy: get('HTTPS_PROXY'), httpProxy: get('HTTP_PROXY'), noProxy: get('NO_PROXY') };
}

/** The proxy a request for `url` goes through, or null for a direct connection. */
export function proxyFor(url: URL, settings: ProxySettings | undefined): URL | null {
  if (!settings) return null;
  const raw = url.protocol === 'https:' ? settings.httpsProxy : settings.httpProxy;
  if (!raw) return null;
  if (bypassed(url, settings.noProxy ?? '')) return null;
  let proxy: URL;
  try {
    // "host:port" without a scheme is common in these variables.
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new ImprintError('E_BAD_ARGUMENTS', `The proxy setting "${raw}" is not a valid URL.`);
  }
  if (proxy.protocol !== 'http:') {
    throw new ImprintError('E_BAD_ARGUMENTS', `The proxy ${proxy.host} uses ${proxy.protocol}; Imprint talks to proxies over http (https requests go through it with CONNECT, still end-to-end TLS).`);
  }
  return proxy;
}

/** NO_PROXY: comma- or space-separated host names (a suffix matches its subdomains), IPs, optional :port; "*" for all. */
export function bypassed(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (let entry of noProxy.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | null = null;
    const m = /^(.*?):(\d+)$/.exec(entry);
    if (m?.[1] !== undefined && m[2] !== undefined && !net.isIPv6(entry)) {
      entry = m[1];
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (entryPort !== null && entryPort !== port) continue;
    if (host === entry || (!net.isIP(host) && host.endsWith(`.${entry}`))) return true;
  }
  return false;
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return { 'Proxy-Authorization': `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}

/** Options for an http request sent to the proxy for a plain-http URL (absolute-form target). */
export function viaProxyOptions(url: URL, proxy: URL): http.RequestOptions {
  return { host: proxy.hostname, port: Number(proxy.port || 80), path: url.href, headers: { Host: url.host, ...proxyAuthorization(proxy) } };
}

/**
 * A tunnel through the proxy to host:port (HTTP CONNECT), for TLS end to end.
 * Rejects with the proxy's status when it refuses.
 */
export function connectTunnel(url: URL, proxy: URL, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  const target = `${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${url.port || 443}`;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: proxy.hostname,
      port: Number(proxy.port || 80),
      method: 'CONNECT',
      path: target,
      headers: { Host: target, ...proxyAuthorization(proxy) },
      agent: false,
      signal,
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`the proxy ${proxy.host} did not answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
    req.on('connect', (res, socket, head) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new ImprintError('E_DOWNLOAD_FAILED', `The proxy ${proxy.host} refused to connect to ${target}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
