import * as os from 'os';
import { ImprintError } from '../engine/errors';
import { DEFAULT_CACHE_MAX_BYTES, DownloadCache, defaultCacheDir } from '../engine/net/download-cache';
import type { DownloadOptions } from '../engine/net/http-download';
import type { HttpOptions } from '../engine/net/http-request';
import { proxySettingsFromEnv } from '../engine/net/proxy';

/**
 * The network settings of one run, read from the environment here at the
 * edge and passed into the engine as options: proxies (HTTPS_PROXY,
 * HTTP_PROXY, NO_PROXY), the cache folder (IMPRINT_CACHE_DIR, else the
 * platform's; IMPRINT_CACHE_MAX_BYTES), and the download's stall time
 * (IMPRINT_DOWNLOAD_STALL_MS, for tests). Extra trusted certificates come
 * from Node's own NODE_EXTRA_CA_CERTS.
 */
export function httpOptions(allowHttp: boolean): HttpOptions {
  return { proxy: proxySettingsFromEnv(process.env), allowHttp };
}

function envInt(name: string, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new ImprintError('E_BAD_ARGUMENTS', `${name} takes a whole number, at least ${min}; got "${raw}".`);
  return n;
}

export function downloadCache(disabled: boolean): DownloadCache | null {
  if (disabled) return null;
  const dir = process.env.IMPRINT_CACHE_DIR || defaultCacheDir(process.env, process.platform, os.homedir());
  return new DownloadCache(dir, envInt('IMPRINT_CACHE_MAX_BYTES', 0) ?? DEFAULT_CACHE_MAX_BYTES);
}

/** --give-up-after SECONDS, and the stall and backoff times tests shorten. */
export function downloadLimits(giveUpSeconds: string | undefined): Pick<DownloadOptions, 'stallMs' | 'giveUpAfterMs' | 'initialBackoffMs' | 'maxBackoffMs'> {
  const limits: Pick<DownloadOptions, 'stallMs' | 'giveUpAfterMs' | 'initialBackoffMs' | 'maxBackoffMs'> = {};
  if (giveUpSeconds !== undefined) {
    const s = Number(giveUpSeconds);
    if (!(s > 0) || !Number.isFinite(s)) throw new ImprintError('E_BAD_ARGUMENTS', `--give-up-after takes a number of seconds; got "${giveUpSeconds}".`);
    limits.giveUpAfterMs = Math.round(s * 1000);
  }
  const stall = envInt('IMPRINT_DOWNLOAD_STALL_MS', 50);
  if (stall !== undefined) limits.stallMs = stall;
  const backoff = envInt('IMPRINT_DOWNLOAD_BACKOFF_MS', 1);
  if (backoff !== undefined) {
    limits.initialBackoffMs = backoff;
    limits.maxBackoffMs = backoff * 8;
  }
  return limits;
}
