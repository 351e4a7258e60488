import * as dns from 'dns';
import * as net from 'net';
import { ImprintError } from '../errors';

/**
 * Which URLs Imprint fetches. https always (its certificate verified); plain
 * http only from this machine or the local network, where a home server or a
 * NAS serves images and nobody on the way could swap them, unless the user
 * says --allow-http (then with a warning): an image written to a boot drive
 * must not come through a café's Wi-Fi unauthenticated.
 */
export interface UrlPolicyOptions {
  /** The user passed --allow-http: plain http to public addresses is fetched, with a warning. */
  allowHttp?: boolean;
  onWarning?: (message: string) => void;
  /** Resolves a host name to its addresses (tests; by default the system resolver). */
  lookup?: (host: string) => Promise<string[]>;
}

/** Parses a URL the user or a catalogue gave; only http and https. */
export function parseHttpUrl(text: string, what = 'URL'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ImprintError('E_URL_REFUSED', `${what} "${text}" is not a valid URL.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ImprintError('E_URL_REFUSED', `${what} "${text}" uses ${url.protocol.replace(/:$/, '')}; Imprint downloads over https (or http on the local network).`);
  }
  if (url.username || url.password) {
    throw new ImprintError('E_URL_REFUSED', `${what} "${redact(url)}" carries a user name or password; Imprint does not send credentials in URLs.`);
  }
  return url;
}

/** The URL without credentials, for messages. */
export function redact(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/** Loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10). */
export function isLocalAddress(address: string): boolean {
  const v4 = net.isIPv4(address) ? address : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4 && net.isIPv4(v4)) {
    const [a = -1, b = -1] = v4.split('.').map(Number);
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  if (!net.isIPv6(address)) return false;
  const lower = address.toLowerCase();
  if (lower === '::1') return true;
  const first = parseInt(lower.split(':')[0] || '0', 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
}

async function systemLookup(host: string): Promise<string[]> {
  const found = await dns.promises.lookup(host, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

/**
 * Refuses a URL the policy does not allow. A plain-http host name counts as
 * local only when every address it resolves to is local.
 */
export async function checkUrlAllowed(url: URL, opts: UrlPolicyOptions): Promise<void> {
  if (url.protocol === 'https:') return;
  if (url.protocol !== 'http:') throw new ImprintError('E_URL_REFUSED', `${redact(url)}: only https and http URLs are fetched.`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let local: boolean;
  if (net.isIP(host)) local = isLocalAddress(host);
  else if (host === 'localhost' || host.endsWith('.localhost')) local = true;
  else {
    let addresses: string[] = [];
    try {
      addresses = await (opts.lookup ?? systemLookup)(host);
    } catch {
      // Unresolvable: not known to be local. The request itself will say it cannot connect.
    }
    local = addresses.length > 0 && addresses.every(isLocalAddress);
  }
  if (local) return;
  if (!opts.allowHttp) {
    throw new ImprintError(
      'E_URL_REFUSED',
      `${redact(url)} is plain http to an address outside this machine and its local network: anyone on the way could change the image. Use an https URL, or pass --allow-http if you trust the network (the image's checksum is still checked when one is published).`,
    );
  }
  opts.onWarning?.(`Downloading ${redact(url)} over plain http (--allow-http): the connection is not authenticated; only a published checksum protects the image.`);
}
