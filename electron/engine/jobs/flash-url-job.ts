import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { JobFinishedEvent, ProgressEvent } from '../../../shared/job-events';
import { ImprintError, toErrorInfo } from '../errors';
import { entryChecksums, type CatalogueImage } from '../catalogues/catalogue';
import type { CacheEntry, ChunkCrcs, DownloadCache } from '../net/download-cache';
import { FeedSink } from '../net/feed-sink';
import { DEFAULT_STALL_MS, DownloadDigest, download, type DownloadOptions, type DownloadProgress } from '../net/http-download';
import type { HttpOptions } from '../net/http-request';
import { discoverUrlChecksum, type UrlChecksum } from '../net/url-checksum';
import { checkUrlAllowed, parseHttpUrl, redact } from '../net/url-policy';
import { detectFormat } from '../formats/detect-format';
import type { DecoderChoice } from '../formats/image-kind';
import { inspectSource } from '../formats/image-source';
import type { ZipImageEntry } from '../formats/zip-entry';
import type { FeedSpec } from '../io/feed-ring';
import { GrowingFile } from '../io/growing-file';
import { runFlash, type RunOptions } from './flash-job';
import { inspectFollowed, locateZipImage } from './followed-download';
import { JobReporter } from './job-reporter';
import type { PublishedChecksum } from './published-checksum';
import { planTargets, type TargetPlan } from '../pipelines/target-plan';
import { CHUNK_SIZE, RING_BYTES } from '../pipelines/write-pipeline';

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
  /** Decoders chosen at the edge (engine-settings.ts). */
  decoders?: DecoderChoice;
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

/** Bytes of the file that must be there before its format is told from them. */
const HEAD_BYTES = 64 << 10;

/**
 * Flashes a URL. The download (resuming through a bad network; see
 * http-download.ts) goes to the cache's temporary file. The image, in every
 * format, is decoded and written while it downloads: one download feeds
 * every target, the image's reader waiting for bytes still on their way
 * (io/growing-file.ts, io/growing-read-stream.ts), its facts read without
 * the file's end (followed-download.ts). A zip archive's central directory,
 * at its end, is fetched ahead by range requests; from a server that
 * ignores them the archive is downloaded first, a file checksum checked,
 * then written. The end of the image is declared only once the whole
 * download is there, so any checksum (of the file, or of the image inside)
 * is checked before the drives' first MiB is written, and a download that
 * fails leaves that MiB unwritten. A flash that succeeds keeps the download
 * in the cache.
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
  reporter.started(where, prepared.targets.map((t) => t.path), req.entry?.extractSize ?? null);
  if (cached) {
    reporter.warning(`Using the cached download of ${where} (${cached.path}; its SHA-256 was checked again just now).`);
    return flashFile(cached.path, prepared, opts, reporter, null).catch(fail);
  }

  const temp = tempDownload(req.cache, url.href);
  const growing = new GrowingFile();
  const progress: DownloadProgress = { downloaded: 0, total: null, attempts: 0, retrying: false };
  const counters = (): NonNullable<ProgressEvent['download']> => ({ downloadedBytes: progress.downloaded, totalBytes: progress.total, attempts: progress.attempts, retrying: progress.retrying, cached: false });
  const sample = (): { done: number; total: number | null; targets: []; extra: Partial<ProgressEvent> } => ({ done: progress.downloaded, total: progress.total, targets: [], extra: { bottleneck: 'network', download: counters() } });
  reporter.phaseStarted('downloading', sample);
  let downloadError: unknown = null;
  // The download stops with the job, and also when the write failed while it was still running.
  const stopDownload = new AbortController();
  const onAbort = (): void => stopDownload.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let closed = false;
  // The cache file is made durable while the flash finishes, not before the image's end is
  // declared: the reader already has its bytes, and fsyncing a 1 GiB download there held the
  // flash 0.4-1 s. A failed fsync (reported once: commit's own would pass) keeps the file out of the cache.
  let synced: Promise<Error | null> = Promise.resolve(null);
  const sink = new FeedSink(temp.fd, temp.path, growing, stopDownload.signal);
  const closeTemp = async (keep: { sha256: string | null; crc32: ChunkCrcs | null; bytes: number } | null): Promise<void> => {
    if (closed) return;
    closed = true;
    const syncError = await synced;
    await sink.close();
    if (keep && req.cache && !syncError) req.cache.commit(temp.path, temp.fd, { url: url.href, sha256: keep.sha256, crc32: keep.crc32, size: keep.bytes });
    else {
      if (keep && syncError) reporter.warning(`The download was not kept in the cache: its file could not be saved (${syncError.message}).`);
      fs.closeSync(temp.fd);
      temp.cleanup();
    }
  };
  // The file's SHA-256 only for a published checksum of the file; otherwise the cache records CRCs (download-cache.ts).
  const digest = new DownloadDigest(checksum?.of === 'file' ? 'sha256' : 'crc32');
  const downloading = download(url.href, sink, {
    ...req.http,
    digest,
    ...req.download,
    onWarning: (m) => reporter.warning(m),
    expectedSize: req.entry?.downloadSize ?? null,
    progress,
    signal: stopDownload.signal,
    onEvent: (e) => reporter.warning(e.type === 'warning' ? e.message : `Connection to ${url.host} lost at byte ${e.offset} (${e.reason}); resuming in ${(e.delayMs / 1000).toFixed(1)} s.`),
  }).then(
    (r) => {
      growing.complete();
      sink.finish();
      // (Fed, the cache file is written behind the download: it holds every byte once drained.)
      const written = sink.drain();
      synced = written.then(
        () => (req.cache ? new Promise<Error | null>((resolve) => fs.fsync(temp.fd, (err) => resolve(err))) : null),
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
      return r;
    },
    (err: unknown) => {
      downloadError = err;
      growing.fail();
      return null;
    },
  );

  try {
    // Wait for the size and the first bytes (or the end): they tell whether the image can be followed.
    while (!(progress.total !== null && growing.available >= Math.min(HEAD_BYTES, progress.total)) && growing.state === 'growing') {
      await new Promise((r) => setTimeout(r, 20));
    }
    let follow = false;
    let feed: FeedSpec | null = null;
    let zipEntry: ZipImageEntry | null = null;
    if (growing.state !== 'failed' && progress.total !== null) {
      const total = progress.total;
      const head = Buffer.alloc(16);
      fs.readSync(temp.fd, head, 0, 16, 0);
      const format = detectFormat(head);
      follow = growing.state === 'growing';
      if (follow && format === 'zip') {
        const lookup = { http: { ...req.http, signal: stopDownload.signal }, stallMs: req.download?.stallMs ?? DEFAULT_STALL_MS, onWarning: (m: string) => reporter.warning(m) };
        zipEntry = await locateZipImage(url, temp.path, growing, total, lookup);
        // (The state is read again: the download went on while the directory was fetched.)
        follow = zipEntry !== null && (growing.state as string) === 'growing';
      }
      // Its full size from the start: the reader takes the file's size for the image's (raw).
      if (follow) fs.ftruncateSync(temp.fd, total);
      // A raw image's content is the file: the download stops hashing it. A published checksum has the
      // pipeline's hasher take its SHA-256 (on a thread of its own); without one, nothing needs it, and the
      // cache records the per-chunk CRC-32s the flash takes anyway (download-cache.ts, ChunkCrcs).
      if (follow && format === 'raw') digest.drop();
      // A raw image's bytes go to the flash in memory from here; the cache file is written behind (net/feed-sink.ts).
      if (follow && format === 'raw') feed = sink.toFeed({ bytes: RING_BYTES, chunk: CHUNK_SIZE }, total);
    }
    if (!follow) {
      const done = await downloading;
      reporter.flush(sample);
      if (!done) throw downloadError;
      if (checksum?.of === 'file' && done.sha256 !== checksum.sha256) {
        throw new ImprintError('E_CHECKSUM_MISMATCH', `The download's SHA-256 does not match ${checksum.from} (expected ${checksum.sha256}, got ${done.sha256}): the file on the server is not the one published. Nothing was written to the drives.`);
      }
    }
    let crc32: ChunkCrcs | null = null;
    const onChunkCrcs = (crcs: readonly number[], chunkSize: number): void => void (crc32 = { chunkSize, crcs: [...crcs] });
    const flashOpts: RunOptions = { ...opts, onEvent: rewriteDownloadFailure(opts.onEvent, () => downloadError), ...(digest.dropped ? { onChunkCrcs } : {}) };
    const result = await flashFile(temp.path, prepared, flashOpts, reporter, follow && progress.total !== null ? { growing, counters, total: progress.total, zipEntry, feed } : null);
    if (!result.ok) stopDownload.abort();
    const done = await downloading;
    // The pipeline's digests are of the content: the file's only for a raw image (whose download digest was dropped).
    const sha256 = done?.sha256 ?? (digest.dropped ? (result.digests?.sha256 ?? null) : null);
    const crcs = done?.crc32 ?? (digest.dropped ? crc32 : null);
    const record = sha256 ? { sha256, crc32: null } : crcs ? { sha256: null, crc32: crcs } : null;
    await closeTemp(result.ok && done && record ? { ...record, bytes: done.bytes } : null);
    return withDownloadError(result, downloadError);
  } catch (err) {
    stopDownload.abort();
    growing.fail();
    await downloading;
    await closeTemp(null);
    return fail(downloadError ?? err);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Writes the downloaded (or downloading) file with the flash job, the checksum held to what it is of. */
async function flashFile(
  file: string,
  prepared: PreparedUrlFlash,
  opts: RunOptions,
  reporter: JobReporter,
  followed: { growing: GrowingFile; counters: () => NonNullable<ProgressEvent['download']>; total: number; zipEntry: ZipImageEntry | null; feed: FeedSpec | null } | null,
): Promise<JobFinishedEvent> {
  const { checksum, cached } = prepared;
  // From here the flash job reports; a followed download's counters ride on its progress events.
  reporter.stopSampling();
  const decoders = prepared.request.decoders;
  const source = followed ? await inspectFollowed(file, followed.total, followed.zipEntry, decoders) : await inspectSource(file, { decoders });
  if (followed) source.growing = followed.growing.shared;
  if (followed?.feed) source.feed = followed.feed;
  const targets = await planTargets(prepared.targets.map((t) => t.path), { path: source.path, size: source.size, isDevice: false }, prepared.targets);
  // A file checksum already checked (downloaded first) is not checked again; otherwise the pipeline checks it before the head.
  const checkedAlready = checksum?.of === 'file' && !cached && !followed;
  const published: PublishedChecksum | null = checksum && !checkedAlready ? { sha256: checksum.sha256, from: checksum.from, contentOnly: checksum.of === 'content' } : null;
  const progressExtra = followed
    ? (b: 'decompression' | 'drive'): Partial<ProgressEvent> => ({ download: followed.counters(), bottleneck: b === 'decompression' && followed.growing.state === 'growing' ? 'network' : b })
    : undefined;
  return runFlash({ source, targets, checksum: published }, { ...opts, jobId: reporter.jobId, announced: true, progressExtra });
}

/** The image reader only knows that the download stopped (its error is E_DOWNLOAD_FAILED); the download's own error says why. */
function withDownloadError(e: JobFinishedEvent, real: unknown): JobFinishedEvent {
  if (!real || e.error?.code !== 'E_DOWNLOAD_FAILED') return e;
  const info = toErrorInfo(real);
  return { ...e, error: info, targets: e.targets.map((t) => (t.error?.code === 'E_DOWNLOAD_FAILED' ? { ...t, error: info } : t)) };
}

function rewriteDownloadFailure(sink: RunOptions['onEvent'], error: () => unknown): RunOptions['onEvent'] {
  return (e) => {
    const real = error();
    if (e.type === 'job-finished') sink(withDownloadError(e, real));
    else if (e.type === 'target-failed' && real && e.error.code === 'E_DOWNLOAD_FAILED') sink({ ...e, error: toErrorInfo(real) });
    else sink(e);
  };
}
