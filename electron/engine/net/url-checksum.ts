import { ImprintError } from '../errors';
import { fetchSmall, type HttpOptions } from './http-request';
import { redact } from './url-policy';

/** A SHA-256 an image downloaded from a URL must match, and where it came from (named in messages). */
export interface UrlChecksum {
  sha256: string;
  /** `--sha256`, the checksum file's URL, or the catalogue's address and entry. */
  from: string;
  /** What it is the digest of: the file as downloaded, the image inside it, or unknown (either may match). */
  of: 'file' | 'content' | 'either';
}

/** Checksum files are a line per image; 1 MiB is thousands of lines (Ubuntu's hold a dozen). */
const MAX_SUMS_BYTES = 1 << 20;

export function isSha256(value: string): boolean {
  return /^[0-9a-fA-F]{64}$/.test(value);
}

/**
 * The digest for `name` in a checksum list: sha256sum's "HEX  NAME" / "HEX *NAME",
 * or the BSD form "SHA256 (NAME) = HEX" (Fedora's CHECKSUM files). Null when absent.
 */
export function findInSums(text: string, name: string): string | null {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const gnu = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line);
    const bsd = /^SHA256\s*\((.+)\)\s*=\s*([0-9a-fA-F]{64})$/.exec(line);
    const [hex, file] = gnu ? [gnu[1], gnu[2]] : bsd ? [bsd[2], bsd[1]] : [undefined, undefined];
    if (!hex || !file) continue;
    const base = file.replace(/^\.\//, '');
    if (base === name || base.split('/').pop() === name) return hex.toLowerCase();
  }
  return null;
}

/** The file name a URL ends with, decoded ("" for a folder). */
export function urlFileName(url: URL): string {
  const last = url.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

export interface DiscoverOptions {
  /** The user's --sha256. */
  sha256?: string | null;
  /** What a catalogue entry states, used when the server publishes nothing. */
  catalogue?: UrlChecksum | null;
  http: HttpOptions;
  onWarning?: (message: string) => void;
}

/**
 * Finds the checksum to hold a download to, in this order: `--sha256`;
 * `URL.sha256` beside the file; a `SHA256SUMS` in the same folder with a
 * line for the file's name; the catalogue's. A checksum file that is there
 * but cannot be read is a warning, not a silent skip.
 */
export async function discoverUrlChecksum(url: URL, opts: DiscoverOptions): Promise<UrlChecksum | null> {
  if (opts.sha256 != null) {
    if (!isSha256(opts.sha256)) throw new ImprintError('E_BAD_ARGUMENTS', `--sha256 takes 64 hexadecimal digits; got "${opts.sha256}".`);
    return { sha256: opts.sha256.toLowerCase(), from: '--sha256', of: 'either' };
  }
  const name = urlFileName(url);
  if (name) {
    const own = new URL(url.href);
    own.pathname = `${url.pathname}.sha256`;
    own.search = '';
    const text = await tryFetch(own, opts);
    const hex = text === null ? null : (/(?:^|\s)([0-9a-fA-F]{64})(?:\s|$)/.exec(text)?.[1] ?? null);
    if (text !== null && hex === null) opts.onWarning?.(`${redact(own)} holds no SHA-256; looking further.`);
    if (hex) return { sha256: hex.toLowerCase(), from: redact(own), of: 'file' };

    const sums = new URL('SHA256SUMS', url);
    sums.search = '';
    const list = await tryFetch(sums, opts);
    const found = list === null ? null : findInSums(list, name);
    if (found) return { sha256: found, from: `${redact(sums)} (line for ${name})`, of: 'file' };
  }
  return opts.catalogue ?? null;
}

async function tryFetch(url: URL, opts: DiscoverOptions): Promise<string | null> {
  try {
    const r = await fetchSmall(url, MAX_SUMS_BYTES, opts.http);
    return r === null ? null : r.body.toString('utf8');
  } catch (err) {
    if (err instanceof ImprintError && err.code === 'E_URL_REFUSED') throw err;
    // 403 from a bucket that lists nothing is common: a checksum file that is simply not there.
    if (err instanceof ImprintError && /HTTP 40[13]/.test(err.message)) return null;
    opts.onWarning?.(`Could not read ${redact(url)} (${(err as Error).message}); going on without it.`);
    return null;
  }
}
