import { ImprintError } from '../errors';
import { openUrl, type HttpOptions } from './http-request';
import { redact } from './url-policy';

export interface TailRequestOptions extends HttpOptions {
  /** The file's size, from the download's first response: a tail of any other file is refused. */
  total: number;
  /**
   * A response that sends no byte for this long is dropped and asked again.
   * Owner: this request. The caller passes the download's stall limit.
   */
  stallMs: number;
  /** Connections tried before giving up. 4: the tail is small; a network that fails it that often fails the download too. */
  attempts?: number;
  /** The most bytes asked for (the caller's bound on a central directory). */
  maxBytes: number;
}

/**
 * Bytes `start` to the end of the file at `url`, by a range request: what a
 * zip's central directory needs before its entries can be read as they
 * download. Resolves with null when the server answers with the whole file
 * instead (it ignores Range): the caller downloads first, then reads.
 * A dropped or stalled connection is tried again; a response that is not
 * the asked range of a file of `total` bytes is an error.
 */
export async function fetchTail(url: URL, start: number, opts: TailRequestOptions): Promise<Buffer | null> {
  const where = redact(url);
  const want = opts.total - start;
  if (start < 0 || want <= 0 || want > opts.maxBytes) throw new ImprintError('E_DOWNLOAD_FAILED', `${where}: asked for bytes ${start} to the end of ${opts.total}, outside what a zip's directory may span.`);
  const attempts = opts.attempts ?? 4;
  let last: unknown = null;
  for (let i = 0; i < attempts; i++) {
    if (opts.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
    try {
      return await once(url, start, want, where, opts);
    } catch (err) {
      if (err instanceof ImprintError) throw err;
      last = err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** i));
    }
  }
  throw new ImprintError('E_DOWNLOAD_FAILED', `${where}: the end of the file (its zip directory) could not be fetched after ${attempts} tries: ${(last as Error).message}`, { cause: last });
}

async function once(url: URL, start: number, want: number, where: string, opts: TailRequestOptions): Promise<Buffer | null> {
  const { req, res } = await openUrl(url, { Range: `bytes=${start}-` }, opts);
  try {
    const status = res.statusCode ?? 0;
    if (status === 200) return null;
    if (status >= 500 || status === 408 || status === 429) throw new Error(`HTTP ${status}`);
    if (status !== 206) throw new ImprintError('E_DOWNLOAD_FAILED', `${where} answered HTTP ${status} to a request for the end of the file.`);
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range']?.trim() ?? '');
    if (!m || Number(m[1]) !== start || Number(m[2]) !== opts.total - 1 || Number(m[3]) !== opts.total) {
      throw new ImprintError('E_DOWNLOAD_FAILED', `${where}: asked for bytes ${start}-${opts.total - 1} of ${opts.total}, the server answered "${res.headers['content-range'] ?? 'no Content-Range'}" (did the file change?).`);
    }
    const body = Buffer.alloc(want);
    let got = 0;
    await new Promise<void>((resolve, reject) => {
      let timer = setTimeout(() => reject(new Error(`no data for ${opts.stallMs} ms`)), opts.stallMs);
      res.on('data', (chunk: Buffer) => {
        clearTimeout(timer);
        timer = setTimeout(() => reject(new Error(`no data for ${opts.stallMs} ms`)), opts.stallMs);
        if (got + chunk.length > want) return reject(new ImprintError('E_DOWNLOAD_LENGTH', `${where} sent more than the ${want} bytes asked for.`));
        chunk.copy(body, got);
        got += chunk.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (got === want && res.complete) resolve();
        else reject(new Error(`the response ended after ${got} of ${want} bytes`));
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.on('close', () => {
        clearTimeout(timer);
        if (!res.complete) reject(new Error('the connection was cut'));
      });
    });
    return body;
  } finally {
    req.destroy();
  }
}
