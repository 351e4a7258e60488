import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { JobFinishedEvent } from '../../../shared/job-events';
import { ImprintError, toErrorInfo } from '../errors';
import { entryChecksums, type CatalogueImage } from '../catalogues/catalogue';
import type { CacheEntry, DownloadCache } from '../net/download-cache';
import { FileSink } from '../net/file-sink';
import { download, type DownloadOptions, type DownloadProgress } from '../net/http-download';
import type { HttpOptions } from '../net/http-request';
import { discoverUrlChecksum, type UrlChecksum } from '../net/url-checksum';
import { checkUrlAllowed, parseHttpUrl, redact } from '../net/url-policy';
import { inspectSource } from '../formats/image-source';
import { runFlash, type RunOptions } from './flash-job';
import { JobReporter } from './job-reporter';
import type { PublishedChecksum } from './published-checksum';
import { planTargets, type TargetPlan } from '../pipelines/target-plan';

export interface UrlFlashRequest {
  url: string;
  targets: string[];
  /** The user's --sha256. */
  sha256?: string | null;
  /** The catalogue entry being flashed, for its checksums and sizes. */
  entry?: CatalogueImage | null;
  http: HttpOptions;
  /** Where finished downloads are kept and looked up; null: a temporary file, removed after. */
  cache: DownloadCache | null;
  /** Retry and stall limits of the download (tests shorten them). */
  download?: Pick<DownloadOptions, 'stallMs' | 'giveUpAfterMs' | 'initialBackoffMs' | 'maxBackoffMs'>;
}

/** What is known before anything is downloaded or written; shown for confirmation. */
export interface PreparedUrlFlash {
  request: UrlFlashRequest;
  url: URL;
  checksum: UrlChecksum | null;
  /** A cached copy that hashed to its record (and to a published file checksum): no download needed. */
  cached: CacheEntry | null;
  targets: TargetPlan[];
}

/** The catalogue's checksum to fall back on: the image's own (extract_sha256) before the download's. */
function catalogueChecksum(entry: CatalogueImage | null | undefined): UrlChecksum | null {
  const [first] = entry ? entryChecksums(entry) : [];
  return first ?? null;
}

/**
 * Checks the URL against the policy, finds the checksum to hold the image
 * to, looks in the cache, and plans the targets (every safety rule; the size
 * rule again once the image's size is known). Writes nothing.
 */
export async function prepareUrlFlash(req: UrlFlashRequest, onWarning: (message: string) => void = () => {}): Promise<PreparedUrlFlash> {
  const url = parseHttpUrl(req.url);
  const http = { ...req.http, onWarning };
  await checkUrlAllowed(url, http);
  const checksum = await discoverUrlChecksum(url, { sha256: req.sha256, catalogue: catalogueChecksum(req.entry), http, onWarning });
  const cached = req.cache ? await req.cache.find(url.href, checksum?.of === 'file' ? checksum.sha256 : null) : null;
  const targets = await planTargets(req.targets, { path: cached?.path ?? null, size: req.entry?.extractSize ?? null, isDevice: false });
  return { request: req, url, checksum, cached, targets };
}

function tempDownload(cache: DownloadCache | null, url: string): { path: string; fd: number; cleanup: () => void } {
  if (cache) {
    const t = cache.createTemp(url);
    return { ...t, cleanup: () => cache.discard(t.path) };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-download-'));
  const p = path.join(dir, 'image');
  return { path: p, fd: fs.openSync(p, 'wx+', 0o600), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Downloads the image (resuming through a bad network; see http-download.ts)
 * into the cache's temporary file, checks a published checksum of the file
 * before a byte goes to a drive, then flashes it. A checksum of the image
 * inside (a catalogue's extract_sha256) is checked while writing: on a
 * mismatch the drives' first MiB is never written. A flash that succeeds
 * keeps the download in the cache for next time.
 */
export async function runUrlFlash(prepared: PreparedUrlFlash, opts: RunOptions): Promise<JobFinishedEvent> {
  const { request: req, url, checksum, cached } = prepared;
  const reporter = new JobReporter(opts.onEvent, opts.kind ?? 'flash', opts.jobId);
  const where = redact(url);
  const fail = (err: unknown): JobFinishedEvent => {
    reporter.stopSampling();
    const targets = prepared.targets.map((t) => ({ device: t.path, status: 'pending' as const, bytesWritten: 0, bytesVerified: 0 }));
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok: false, targets, bytes: 0, error: toErrorInfo(err) };
    reporter.emit(event);
    return event;
  };

  let file: string;
  let temp: ReturnType<typeof tempDownload> | null = null;
  let downloaded: { sha256: string; bytes: number } | null = null;
  reporter.started(where, prepared.targets.map((t) => t.path), req.entry?.extractSize ?? null);
  if (cached) {
    file = cached.path;
    reporter.warning(`Using the cached download of ${where} (${cached.path}; its SHA-256 was checked again just now).`);
  } else {
    temp = tempDownload(req.cache, url.href);
    file = temp.path;
    const progress: DownloadProgress = { downloaded: 0, total: null, attempts: 0, retrying: false };
    reporter.phaseStarted('downloading', () => ({
      done: progress.downloaded,
      total: progress.total,
      targets: [],
      extra: { bottleneck: 'network', download: { downloadedBytes: progress.downloaded, totalBytes: progress.total, attempts: progress.attempts, retrying: progress.retrying, cached: false } },
    }));
    try {
      downloaded = await download(url.href, new FileSink(temp.fd), {
        ...req.http,
        ...req.download,
        onWarning: (m) => reporter.warning(m),
        expectedSize: req.entry?.downloadSize ?? null,
        progress,
        signal: opts.signal,
        onEvent: (e) =>
          reporter.warning(e.type === 'warning' ? e.message : `Connection to ${url.host} lost at byte ${e.offset} (${e.reason}); resuming in ${(e.delayMs / 1000).toFixed(1)} s.`),
      });
      if (checksum?.of === 'file' && downloaded.sha256 !== checksum.sha256) {
        throw new ImprintError('E_CHECKSUM_MISMATCH', `The download's SHA-256 does not match ${checksum.from} (expected ${checksum.sha256}, got ${downloaded.sha256}): the file on the server is not the one published. Nothing was written to the drives.`);
      }
      fs.fsyncSync(temp.fd);
    } catch (err) {
      fs.closeSync(temp.fd);
      temp.cleanup();
      return fail(err);
    }
  }

  try {
    const source = await inspectSource(file);
    const targets = await planTargets(prepared.targets.map((t) => t.path), { path: source.path, size: source.size, isDevice: false });
    // A checksum of the file was checked above (or by the cache); one of the image inside is checked while writing.
    const published: PublishedChecksum | null =
      checksum && (checksum.of !== 'file' || cached) ? { sha256: checksum.sha256, from: checksum.from, contentOnly: checksum.of === 'content' } : null;
    const result = await runFlash({ source, targets, checksum: published }, { ...opts, jobId: reporter.jobId, announced: true });
    if (temp && downloaded) {
      if (result.ok && req.cache) req.cache.commit(temp.path, temp.fd, { url: url.href, sha256: downloaded.sha256, size: downloaded.bytes });
      else {
        fs.closeSync(temp.fd);
        temp.cleanup();
      }
      temp = null;
    }
    return result;
  } catch (err) {
    return fail(err);
  } finally {
    if (temp) {
      fs.closeSync(temp.fd);
      temp.cleanup();
    }
  }
}
