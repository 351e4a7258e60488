import * as crypto from 'crypto';
import { ImprintError, errnoOf } from '../errors';
import { ChunkCrcStream } from '../io/chunk-crc';
import type { ChunkCrcs } from './download-cache';
import { directGet } from './direct-get';
import { openUrl, type HttpOptions } from './http-request';
import { proxyFor } from './proxy';
import { parseHttpUrl, redact } from './url-policy';
import { contentLength, header, parseContentRange, validatorOf, type BodyRequest, type BodyResponse } from './response-headers';

/**
 * Where downloaded bytes go. Bytes arrive in order; `offset` is always the
 * end of what was written before. A returned promise holds the download
 * until it settles (backpressure).
 */
export interface DownloadSink {
  write(chunk: Buffer, offset: number): void | Promise<void>;
  /**
   * The server sent the file again from byte 0: forget everything written.
   * `changed`: its validator (ETag, Last-Modified) differs from the first
   * response's, so the bytes are another file's (a sink that cannot forget
   * refuses them).
   */
  restart(changed: boolean): void | Promise<void>;
  /** Memory the next read of a direct connection may land in (direct-get.ts); null: the connection's own. */
  receiveBuffer?(): Buffer | null;
}

/** Counters the caller samples for progress (updated in place). */
export interface DownloadProgress {
  downloaded: number;
  /** The file's size once a response has stated it, else null. */
  total: number | null;
  /** Connections opened so far (1 when nothing went wrong). */
  attempts: number;
  /** Waiting before the next attempt. */
  retrying: boolean;
}

export type DownloadEvent =
  | { type: 'retry'; attempt: number; offset: number; delayMs: number; reason: string }
  | { type: 'warning'; message: string };

export interface DownloadOptions extends HttpOptions {
  /**
   * A connection that delivers no byte for this long is dropped and resumed.
   * Owner: the download. 20 s: a healthy transfer never pauses that long,
   * and a dead one is better reopened than waited on.
   */
  stallMs?: number;
  /**
   * The download fails when no new byte arrived for this long, across every
   * retry. 2 minutes: long enough for a Wi-Fi roam or a router restart.
   */
  giveUpAfterMs?: number;
  /** Wait before the first retry, doubled each time up to maxBackoffMs; reset by progress. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** The size a catalogue promised for the download: any other size is an error. */
  expectedSize?: number | null;
  /** Times the server may send the file from byte 0 again after a drop (it ignores Range). */
  maxRestarts?: number;
  progress?: DownloadProgress;
  onEvent?: (event: DownloadEvent) => void;
  /** Lets the caller stop the download's own SHA-256 (see DownloadDigest). */
  digest?: DownloadDigest;
}

/**
 * The download's SHA-256, which the caller may drop once another reader
 * hashes the very same bytes: a raw image followed by the flash pipeline,
 * whose hasher thread takes the digest beside its checksums. Hashing on the
 * download's thread as well cost a 1 GiB flash 0.7-1.5 CPU-s on the thread
 * that also reads the socket and writes the cache file. Once dropped, the
 * result's `sha256` is null.
 */
export class DownloadDigest {
  dropped = false;

  /**
   * 'crc32': the CRC-32 of each 4 MiB chunk instead of the SHA-256, when no
   * published checksum needs the file's SHA-256: the cache's record
   * (download-cache.ts, ChunkCrcs), at a fraction of the CPU.
   */
  constructor(readonly kind: 'sha256' | 'crc32' = 'sha256') {}

  drop(): void {
    this.dropped = true;
  }
}

export interface DownloadResult {
  bytes: number;
  /** Null when the caller dropped the digest, or asked for CRCs instead (DownloadDigest). */
  sha256: string | null;
  /** The chunks' CRC-32s, when the caller asked for them instead (DownloadDigest). */
  crc32?: ChunkCrcs | null;
  /** Where the bytes came from, after redirects. */
  url: string;
  contentType: string | null;
}

export const DEFAULT_STALL_MS = 20_000;
/** The chunk of the download's CRCs (DownloadDigest 'crc32'): the flash pipeline's, so a raw image's two records agree. */
const CRC_CHUNK = 4 << 20;
/**
 * A connection that delivered at least this much before it broke is
 * resumed at once, without the backoff: the server is up and sending, and
 * waiting would only idle the drives the download feeds (half a second per
 * drop costs a 1 GiB flash 5 s when a flaky link drops every 100 MiB).
 * Failures with less progress back off as usual, so a server that sends a
 * few bytes and hangs up is not hammered.
 */
const QUICK_RESUME_BYTES = 1 << 20;
export const DEFAULT_GIVE_UP_MS = 120_000;

/** A fault worth another attempt: the connection, not the file. */
class Transient extends Error {}

/** Codes of a connection that broke or never formed, as Node reports them. */
const TRANSIENT_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

function transientCause(err: unknown): string | null {
  if (err instanceof Transient) return err.message;
  if (err instanceof ImprintError) return null;
  const code = errnoOf(err);
  if (code && TRANSIENT_ERRNOS.has(code)) return `${code}: ${(err as Error).message}`;
  if (err instanceof Error && /socket hang up|aborted|premature/i.test(err.message)) return err.message;
  return null;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ImprintError('E_CANCELLED', 'Cancelled.'));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new ImprintError('E_CANCELLED', 'Cancelled.'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Downloads `url` into `sink`, surviving a bad network: a dropped or reset
 * connection, a stall, or a 5xx is retried with exponential backoff and
 * resumed with a range request from the last byte received (If-Range with
 * the server's validator, so a file replaced on the server starts over
 * rather than splicing two files). A server that ignores Range sends the
 * whole file again: the sink starts over, with a warning. The download fails
 * when nothing new arrived for `giveUpAfterMs`, and says so. A body shorter
 * or longer than its announced size is an error, never a pass.
 */
export async function download(urlText: string, sink: DownloadSink, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const url = parseHttpUrl(urlText);
  const stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
  const giveUpMs = opts.giveUpAfterMs ?? DEFAULT_GIVE_UP_MS;
  const initialBackoff = opts.initialBackoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 15_000;
  const maxRestarts = opts.maxRestarts ?? 3;
  const progress = opts.progress ?? { downloaded: 0, total: null, attempts: 0, retrying: false };
  const warn = (message: string): void => opts.onEvent?.({ type: 'warning', message });
  const where = redact(url);
  const digest = opts.digest ?? new DownloadDigest();

  let offset = 0;
  let total: number | null = null;
  const newDigest = (): { update(b: Buffer): unknown } => (digest.kind === 'crc32' ? new ChunkCrcStream(CRC_CHUNK) : crypto.createHash('sha256'));
  let hash = newDigest();
  let validator: string | null = null;
  let restarts = 0;
  let finalUrl = url.href;
  let contentType: string | null = null;
  let lastProgressAt = Date.now();
  let backoff = initialBackoff;

  const setTotal = (value: number, from: string): void => {
    if (opts.expectedSize != null && value !== opts.expectedSize) {
      throw new ImprintError('E_DOWNLOAD_LENGTH', `${where} is ${value} bytes (${from}), but the catalogue says ${opts.expectedSize}: not the file it describes.`);
    }
    if (total !== null && value !== total) {
      throw new ImprintError('E_DOWNLOAD_LENGTH', `${where} changed size on the server between requests (${total} bytes, then ${value}, ${from}).`);
    }
    total = value;
    progress.total = value;
  };

  /** One connection: resolves when the body ended cleanly; throws Transient for what a retry may fix. */
  const attempt = async (): Promise<void> => {
    const headers: Record<string, string> = {};
    if (offset > 0) {
      headers.Range = `bytes=${offset}-`;
      if (validator) headers['If-Range'] = validator;
    }
    progress.attempts++;
    // Direct connections read big pieces into one buffer (direct-get.ts); it hands back what it does not take.
    const direct = proxyFor(url, opts.proxy) === null ? await directGet(url, headers, opts, sink.receiveBuffer ? () => sink.receiveBuffer?.() ?? null : undefined) : null;
    const { req, res, url: at }: { req: BodyRequest; res: BodyResponse; url: URL } = direct ? { ...direct, url } : await openUrl(url, headers, opts);
    finalUrl = at.href;
    try {
      const status = res.statusCode ?? 0;
      let expectBody: number | null;
      if (status === 200) {
        if (offset > 0) {
          if (++restarts > maxRestarts) throw new ImprintError('E_DOWNLOAD_FAILED', `${where}: the server does not resume downloads and the connection kept breaking (${restarts} restarts from byte 0).`);
          warn(`${where}: the server sent the whole file again instead of resuming at byte ${offset} (no range support, or the file changed); starting over from byte 0.`);
          await sink.restart(validator !== null && validatorOf(res) !== null && validatorOf(res) !== validator);
          offset = 0;
          hash = newDigest();
          progress.downloaded = 0;
          total = null;
        }
        expectBody = contentLength(res);
        if (expectBody !== null) setTotal(expectBody, 'Content-Length');
      } else if (status === 206) {
        const range = parseContentRange(header(res, 'content-range'));
        if (!range || range.start !== offset) {
          throw new ImprintError('E_DOWNLOAD_FAILED', `${where}: asked for bytes from ${offset}, the server answered "${header(res, 'content-range') ?? 'no Content-Range'}".`);
        }
        if (range.total !== null) setTotal(range.total, 'Content-Range');
        expectBody = range.end - range.start + 1;
        const length = contentLength(res);
        if (length !== null && length !== expectBody) throw new ImprintError('E_DOWNLOAD_LENGTH', `${where}: Content-Length ${length} disagrees with Content-Range ${header(res, 'content-range')}.`);
      } else if (status === 416 && offset > 0) {
        throw new ImprintError('E_DOWNLOAD_LENGTH', `${where} ended at fewer than ${offset} bytes${total !== null ? `, though the server announced ${total}` : ''}: the response was shorter than announced.`);
      } else if (status >= 500 || status === 408 || status === 429) {
        throw new Transient(`HTTP ${status} ${res.statusMessage ?? ''}`.trim());
      } else {
        throw new ImprintError('E_DOWNLOAD_FAILED', `${where} answered HTTP ${status} ${res.statusMessage ?? ''}${status === 404 ? ': no such file on the server. Check the URL.' : '.'}`.replace(/ +\./, '.'));
      }
      if (offset === 0) {
        validator = validatorOf(res);
        contentType = header(res, 'content-type') ?? null;
      }
      await readBody(req, res, expectBody);
    } finally {
      req.destroy();
    }
  };

  /** Streams the body into the sink, watching for a stall and for a body that is not the announced length. */
  const readBody = (req: BodyRequest, res: BodyResponse, expect: number | null): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let received = 0;
      let settled = false;
      let writing: Promise<void> | null = null;
      let stallTimer: NodeJS.Timeout | null = null;
      const done = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        if (stallTimer) clearTimeout(stallTimer);
        if (err) reject(err);
        else resolve();
      };
      const armStall = (): void => {
        if (stallTimer) clearTimeout(stallTimer);
        stallTimer = setTimeout(() => {
          // Paused for the sink (a slow drive) is not the network stalling.
          if (writing) return armStall();
          done(new Transient(`no data for ${Math.round(stallMs / 1000)} s`));
          req.destroy();
        }, stallMs);
      };
      armStall();
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        armStall();
        if (expect !== null && received + chunk.length > expect) {
          done(new ImprintError('E_DOWNLOAD_LENGTH', `${where} sent more than the ${expect} bytes it announced: the response is not what it claims.`));
          return;
        }
        received += chunk.length;
        const at = offset;
        offset += chunk.length;
        if (!digest.dropped) hash.update(chunk);
        progress.downloaded = offset;
        lastProgressAt = Date.now();
        backoff = initialBackoff;
        const w = sink.write(chunk, at);
        if (w && typeof (w as Promise<void>).then === 'function') {
          res.pause();
          writing = (w as Promise<void>).then(
            () => {
              writing = null;
              if (!settled) res.resume();
            },
            (err: unknown) => done(err),
          );
        }
      });
      // The body counts once the response ended AND its connection closed without a parser error:
      // bytes after the announced end arrive on the socket after the body, and the parser fails on them.
      let ended = false;
      const finish = (): void => {
        if (!res.complete) return done(new Transient(`the connection closed after ${received} bytes of this response`));
        if (expect !== null && received < expect) return done(new Transient(`the response ended after ${received} of ${expect} bytes`));
        // A clean end is the file's end only when no size was stated, or it is reached.
        try {
          if (total === null) setTotal(offset, 'end of the response');
        } catch (err) {
          return done(err);
        }
        done();
      };
      // 'end' waits while the body is paused for the sink; the connection may close before it.
      let closed = false;
      let lingered = false;
      const maybeFinish = (): void => {
        if (!ended || !(closed || lingered)) return;
        if (writing) void (writing as Promise<void>).then(finish, done);
        else finish();
      };
      req.on('close', () => {
        closed = true;
        if (!res.complete) done(new Transient('the connection was cut'));
        else maybeFinish();
      });
      res.on('end', () => {
        ended = true;
        // The socket closes right after a response on a connection of its own; should it linger, do not wait on it.
        setTimeout(() => {
          lingered = true;
          maybeFinish();
        }, 1000).unref();
        maybeFinish();
      });
      res.on('error', (err: Error) => done(err));
      // Node's parser fails on bytes past the announced length ("Data after Connection: close") once
      // the message is complete; a parse error before that is a malformed response.
      req.on('error', (err: Error) => {
        if (!/^HPE_/.test(errnoOf(err) ?? '')) return done(err);
        if (res.complete) return done(new ImprintError('E_DOWNLOAD_LENGTH', `${where} sent more than the ${expect ?? received} bytes it announced (${(err as Error).message}): the response is not what it claims.`, { cause: err }));
        done(new Transient(`malformed response (${(err as Error).message})`));
      });
    });

  for (;;) {
    if (opts.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
    const attemptFrom = offset;
    try {
      progress.retrying = false;
      await attempt();
      if (total !== null && offset < total) throw new Transient(`the file is ${total} bytes and ${offset} arrived`);
      if (total !== null && offset > total) throw new ImprintError('E_DOWNLOAD_LENGTH', `${where} sent ${offset} bytes, more than the ${total} announced.`);
      break;
    } catch (err) {
      if (opts.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.', { cause: err });
      const reason = transientCause(err);
      if (reason === null) throw err;
      // Every announced byte arrived and then the connection broke: the file is whole.
      if (total !== null && offset === total) break;
      const idle = Date.now() - lastProgressAt;
      if (idle >= giveUpMs) {
        throw new ImprintError(
          'E_DOWNLOAD_STALLED',
          `Downloading ${where} made no progress for ${Math.round(idle / 1000)} s (${offset}${total !== null ? ` of ${total}` : ''} bytes received, ${progress.attempts} connections; last: ${reason}). Check the network connection, and try again: the download resumes where it stopped.`,
          { cause: err },
        );
      }
      const quick = offset - attemptFrom >= QUICK_RESUME_BYTES;
      const delay = quick ? 0 : Math.min(backoff, giveUpMs - idle);
      if (!quick) backoff = Math.min(backoff * 2, maxBackoff);
      progress.retrying = true;
      opts.onEvent?.({ type: 'retry', attempt: progress.attempts, offset, delayMs: delay, reason });
      await sleep(delay, opts.signal);
    }
  }
  progress.retrying = false;
  if (opts.expectedSize != null && offset !== opts.expectedSize) {
    throw new ImprintError('E_DOWNLOAD_LENGTH', `${where} is ${offset} bytes, but the catalogue says ${opts.expectedSize}.`);
  }
  const sha256 = !digest.dropped && hash instanceof crypto.Hash ? hash.digest('hex') : null;
  const crc32 = !digest.dropped && hash instanceof ChunkCrcStream ? { chunkSize: CRC_CHUNK, crcs: hash.end() } : null;
  return { bytes: offset, sha256, crc32, url: finalUrl, contentType };
}
