import * as os from 'os';
import * as path from 'path';
import type { CatalogueSourceInfo, OsFlashRequest, UrlFlashRequest } from '../../shared/web-source';
import { ImprintError } from '../engine/errors';
import { DEFAULT_CATALOGUES, displayName } from '../engine/catalogues/catalogue';
import { prepareUrlFlash, type PreparedUrlFlash } from '../engine/jobs/flash-url-job';
import { DEFAULT_CACHE_MAX_BYTES, DownloadCache, defaultCacheDir } from '../engine/net/download-cache';
import type { DownloadOptions } from '../engine/net/http-download';
import type { HttpOptions } from '../engine/net/http-request';
import { proxySettingsFromEnv } from '../engine/net/proxy';
import type { DecoderChoice } from '../engine/formats/image-kind';
import type { CatalogueBrowser } from './catalogue-browser';

/** How the app reaches the web: the catalogues it offers, proxies, the download cache. */
export interface WebSettings {
  catalogues: CatalogueSourceInfo[];
  http: HttpOptions;
  cache: DownloadCache | null;
  download?: Pick<DownloadOptions, 'stallMs' | 'giveUpAfterMs' | 'initialBackoffMs' | 'maxBackoffMs'>;
}

function envInt(env: Readonly<Record<string, string | undefined>>, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new ImprintError('E_BAD_ARGUMENTS', `${name} takes a whole number, at least ${min}; got "${raw}".`);
  return n;
}

/** A name for a catalogue set by address: its host, or a file's name. */
function sourceName(source: string): string {
  try {
    return new URL(source).host;
  } catch {
    return path.basename(source);
  }
}

/**
 * The web settings from the environment, read once where the service starts
 * (as the CLI's net-settings.ts reads them): IMPRINT_CATALOGUES (sources,
 * URLs or files, separated by spaces or new lines; the two projects' public
 * lists when unset), HTTPS_PROXY / HTTP_PROXY / NO_PROXY, IMPRINT_CACHE_DIR,
 * IMPRINT_CACHE_MAX_BYTES, IMPRINT_DOWNLOAD_STALL_MS. Nothing is fetched here.
 */
export function webSettingsFromEnv(env: NodeJS.ProcessEnv): WebSettings {
  const listed = (env.IMPRINT_CATALOGUES ?? '').split(/\s+/).filter(Boolean);
  const catalogues = listed.length > 0 ? listed.map((source) => ({ name: sourceName(source), source })) : DEFAULT_CATALOGUES.map((c) => ({ name: c.name, source: c.url }));
  const dir = env.IMPRINT_CACHE_DIR || defaultCacheDir(env, process.platform, os.homedir());
  const stall = envInt(env, 'IMPRINT_DOWNLOAD_STALL_MS', 50);
  return {
    catalogues,
    http: { proxy: proxySettingsFromEnv(env), allowHttp: false },
    cache: new DownloadCache(dir, envInt(env, 'IMPRINT_CACHE_MAX_BYTES', 0) ?? DEFAULT_CACHE_MAX_BYTES),
    download: stall !== undefined ? { stallMs: stall } : {},
  };
}

/** A prepared web flash, with what the privileged helper would be asked to run instead, and the warnings seen while preparing. */
export interface WebFlashPlan {
  prepared: PreparedUrlFlash;
  cliArgs: string[];
  warnings: string[];
}

/** Checks the URL and the targets, finds the checksum, looks in the cache; writes nothing. */
export async function planUrlFlash(settings: WebSettings, decoders: DecoderChoice, req: UrlFlashRequest): Promise<WebFlashPlan> {
  const warnings: string[] = [];
  const sha256 = req.sha256?.toLowerCase() ?? null;
  const prepared = await prepareUrlFlash({ url: req.url, targets: req.targets, sha256, entry: null, http: settings.http, cache: settings.cache, decoders, download: settings.download }, (m) => warnings.push(m));
  // "--" ends the options: the URL and paths after it are never read as one.
  const cliArgs = ['flash', '--yes', '--json', '--stdin-cancel', ...(req.verify ? [] : ['--no-verify']), ...(sha256 ? [`--sha256=${sha256}`] : []), '--', req.url, ...req.targets];
  return { prepared, cliArgs, warnings };
}

/** The same for a catalogue entry the browser listed: its URL, held to the catalogue's checksums and sizes. */
export async function planOsFlash(settings: WebSettings, decoders: DecoderChoice, browser: CatalogueBrowser, req: OsFlashRequest): Promise<WebFlashPlan> {
  const { image, source } = browser.entry(req.entryId);
  const warnings: string[] = [];
  const prepared = await prepareUrlFlash({ url: image.url, targets: req.targets, sha256: null, entry: image, http: settings.http, cache: settings.cache, decoders, download: settings.download }, (m) => warnings.push(m));
  const cliArgs = ['flash', '--yes', '--json', '--stdin-cancel', ...(req.verify ? [] : ['--no-verify']), `--os=${displayName(image)}`, `--catalogue=${source}`, '--', ...req.targets];
  return { prepared, cliArgs, warnings };
}
