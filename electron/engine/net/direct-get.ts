import { EventEmitter } from 'events';
import * as net from 'net';
import * as tls from 'tls';
import { DEFAULT_HEADERS_TIMEOUT_MS, caList, isTlsError, tlsFailure, type HttpOptions } from './http-request';
import { checkUrlAllowed } from './url-policy';

/**
 * A GET on a socket of its own, read into one reused 1 MiB buffer: the
 * download's fast path for a direct connection (no proxy). Node's HTTP
 * client reads 64 KiB at a time into a fresh allocation and copies every
 * body piece again for the parser; on a fast link (a LAN mirror, loopback)
 * that cost more CPU than hashing and storing the bytes, and a 1 GiB download
 * ran at a fifth of a flash from disk. This reads the status and headers
 * itself and takes only the plain case: an identity body, its length stated
 * once or ended by the connection's close. Anything else (a redirect, a 1xx,
 * a transfer coding, a repeated or odd length, an oversized head) resolves
 * to null, and the caller asks again through Node's client (http-request.ts),
 * which handles it as before.
 *
 * The result looks to the download like Node's (request, response) pair:
 * `res` emits 'data' (a view of the read buffer, valid during the call and,
 * when the consumer pauses, until it resumes), 'end' once the body is whole,
 * and 'error'; `req` emits 'close' and 'error'. Bytes after the stated length
 * are an error coded as Node's parser codes them (HPE_...), so the download
 * treats both paths alike.
 */

const READ_BUFFER_BYTES = 1 << 20;
/** The first read after a consumer reading in place resumes (it is copied into the consumer's memory). */
const RESUME_READ_BYTES = 64 << 10;
/** Node's own header limit (16 KiB) is lower; past this the head is left to Node, which refuses it. */
const MAX_HEAD_BYTES = 64 << 10;

export class DirectResponse extends EventEmitter {
  statusCode = 0;
  statusMessage = '';
  headers: Record<string, string> = {};
  /** The whole body arrived (its stated length, or the connection's end when none was stated). */
  complete = false;
  private paused = true;

  constructor(private readonly socket: net.Socket) {
    super();
    // As a Node stream: a 'data' listener starts the flow.
    this.on('newListener', (event: string) => {
      if (event === 'data') process.nextTick(() => this.resume());
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.emit('resumed');
    if (!this.paused) this.socket.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }
}

export class DirectRequest extends EventEmitter {
  constructor(private readonly socket: net.Socket) {
    super();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

interface Head {
  status: number;
  message: string;
  headers: Record<string, string>;
}

/** Status line and headers; null when the head is not one this path takes (the caller falls back to Node's client). */
function parseHead(text: string): Head | null {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m?.[1]) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).toLowerCase();
    // A folded line, a malformed name or a repeated header: Node's parser decides.
    const value = line.slice(i + 1).trim();
    // A control character in a value (a bare LF...) too: such a value must never be sent back (If-Range).
    if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name) || name in headers || /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return null;
    headers[name] = value;
  }
  return { status: Number(m[1]), message: m[2] ?? '', headers };
}

/**
 * Sends a GET for `url` with `headers` on a new direct connection and
 * resolves once the response head arrived, or with null when this response
 * is one to ask for again through Node's client (see above). `lend`, when
 * given, offers memory for the body's next read (the consumer's own: a
 * flash's ring, net/feed-sink.ts), asked for only between body reads; a
 * 'data' chunk is then a view of it.
 */
export async function directGet(url: URL, headers: Record<string, string>, opts: HttpOptions, lend?: () => Buffer | null): Promise<{ req: DirectRequest; res: DirectResponse } | null> {
  await checkUrlAllowed(url, opts);
  const timeoutMs = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, `User-Agent: ${opts.userAgent ?? 'Imprint (disk imager)'}`, 'Accept: */*', 'Accept-Encoding: identity', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) {
    // As Node's client refuses them: a line break in a value would start a header of its own.
    if (/[\r\n\0]/.test(`${k}${v}`)) throw Object.assign(new TypeError(`Invalid character in header "${k}"`), { code: 'ERR_INVALID_CHAR' });
    lines.push(`${k}: ${v}`);
  }
  let buffer: Buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  /** A second read buffer, made the first time a pause needs it. */
  let spare: Buffer | null = null;
  let onRead: (bytes: Buffer) => boolean = () => true;
  // Node asks for the next read's memory after each read; the head, and the body bytes that came with it, use our own.
  let lending = false;
  /** The last memory asked for was the consumer's own (it reads in place). */
  let lent = false;
  /** The memory of the last piece handed to the consumer: valid for it until it resumes, when it paused. */
  let handed: ArrayBufferLike | null = null;
  // Node asks for the next read's memory right after the read whose callback paused the stream, and that read
  // comes only once the consumer resumes. A TLS socket may meanwhile deliver more decrypted bytes: those must not
  // land in the memory the paused consumer still holds, so the other buffer takes them when it holds this one,
  // and what arrives while paused is kept in order (held, below). A consumer reading in place paused because its
  // memory was full: the read after it resumes lands here and is copied, so it is kept small, and the reads after
  // it go to the consumer's memory again.
  const onread = {
    buffer: (): Buffer => {
      // (Node asks once before `res` exists.)
      const paused = settled && response !== null && response.isPaused;
      if (!paused) {
        const mine = lending ? (lend?.() ?? null) : null;
        lent = mine !== null;
        return mine ?? buffer;
      }
      if (handed === buffer.buffer) [buffer, spare] = [spare ?? Buffer.allocUnsafe(READ_BUFFER_BYTES), buffer];
      return lent ? buffer.subarray(0, RESUME_READ_BYTES) : buffer;
    },
    callback: (n: number, buf: Buffer): boolean => onRead(buf.subarray(0, n)),
  };
  let settled = false;
  let response: DirectResponse | null = null;
  /** Body bytes that arrived while the consumer was paused (copies), handed on when it resumes. */
  const held: Buffer[] = [];
  let endWhenDrained = false;
  const socket: net.Socket = secure
    ? // (Node's tls.connect takes `onread` as net.connect does; its type declarations lack it.)
      tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: caList(opts.extraCa), ALPNProtocols: ['http/1.1'], onread } as tls.ConnectionOptions)
    : net.connect({ host, port, onread });
  const req = new DirectRequest(socket);
  const res = new DirectResponse(socket);
  response = res;
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);

  return new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    let length: number | null = null;
    let received = 0;
    let pending: Buffer | null = null;
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`${url.host} did not answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
    const onAbort = (): void => void socket.destroy(Object.assign(new Error('The operation was aborted'), { code: 'ABORT_ERR', name: 'AbortError' }));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    const settle = (value: { req: DirectRequest; res: DirectResponse } | null, err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (value === null) socket.destroy();
      if (err) reject(isTlsError(err) ? tlsFailure(url, err) : err);
      else resolve(value);
    };

    // (An emitter's 'error' with no listener throws: one unread response has none.)
    const failRequest = (err: Error): void => {
      if (req.listenerCount('error') > 0) req.emit('error', err);
    };
    /** Body bytes: handed on up to the stated length; more is the server's error. */
    const body = (bytes: Buffer): void => {
      if (bytes.length === 0) return;
      if (res.complete) {
        failRequest(Object.assign(new Error('Data after the end of the response body'), { code: 'HPE_DATA_AFTER_END' }));
        socket.destroy();
        return;
      }
      const take = length === null ? bytes.length : Math.min(bytes.length, length - received);
      received += take;
      handed = bytes.buffer;
      res.emit('data', take === bytes.length ? bytes : bytes.subarray(0, take));
      if (length !== null && received === length) {
        res.complete = true;
        res.emit('end');
        body(bytes.subarray(take));
      }
    };
    res.on('resumed', () => {
      // The bytes that came with the head were kept until someone read them.
      if (pending !== null) {
        const first = pending;
        pending = null;
        lending = true;
        if (length === 0) res.emit('end');
        body(first);
      }
      while (!res.isPaused && held.length > 0) body(held.shift() as Buffer);
      if (endWhenDrained && held.length === 0 && !res.complete) endOfBody();
      if (res.isPaused || held.length > 0) socket.pause();
    });

    onRead = (bytes: Buffer): boolean => {
      if (settled && !res.isPaused) {
        body(bytes);
        return !res.isPaused;
      }
      if (settled) {
        held.push(Buffer.from(bytes));
        return false;
      }
      head = Buffer.concat([head, bytes]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) settle(null);
        return true;
      }
      const parsed = parseHead(head.subarray(0, end).toString('latin1'));
      const status = parsed?.status ?? 0;
      const te = parsed?.headers['transfer-encoding'];
      const cl = parsed?.headers['content-length'];
      if (!parsed || status < 200 || (status >= 300 && status < 400 && parsed.headers.location !== undefined) || te !== undefined || (cl !== undefined && !/^\d{1,15}$/.test(cl))) {
        settle(null);
        return false;
      }
      res.statusCode = status;
      res.statusMessage = parsed.message;
      res.headers = parsed.headers;
      length = cl === undefined ? null : Number(cl);
      // Kept (copied: the read buffer is reused) until the body is read.
      pending = Buffer.from(head.subarray(end + 4));
      res.complete = length === 0;
      settle({ req, res });
      return false;
    };

    const endOfBody = (): void => {
      res.complete = true;
      res.emit('end');
    };
    socket.on('end', () => {
      if (length === null && settled && !res.complete) {
        // Bytes still held for a paused consumer come first.
        if (held.length > 0) endWhenDrained = true;
        else endOfBody();
      }
    });
    socket.on('error', (err) => {
      if (!settled) settle(null, err);
      else failRequest(err);
    });
    socket.on('close', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (!settled) settle(null, Object.assign(new Error(`${url.host} closed the connection before answering`), { code: 'ECONNRESET' }));
      else req.emit('close');
    });
  });
}
