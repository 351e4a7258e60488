/**
 * What the download (http-download.ts) reads of a response, whether Node's
 * (http-request.ts) or a direct socket's (direct-get.ts): its headers, each
 * checked as the untrusted input it is.
 */

/** `bytes START-END/TOTAL` (TOTAL may be `*`). */
export function parseContentRange(value: string | undefined): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!m?.[1] || !m[2] || !m[3]) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start || (total !== null && (!Number.isSafeInteger(total) || end >= total))) return null;
  return { start, end, total };
}

/** What the download reads of a response: Node's (http-request.ts) or a direct socket's (direct-get.ts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as EventEmitter's own listener type
export type Listener = (...args: any[]) => void;
export interface BodyResponse {
  statusCode?: number;
  statusMessage?: string;
  headers: Record<string, string | string[] | undefined>;
  complete: boolean;
  on(event: string, listener: Listener): unknown;
  pause(): unknown;
  resume(): unknown;
}
export interface BodyRequest {
  on(event: string, listener: Listener): unknown;
  destroy(): unknown;
}

export function header(res: BodyResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** What If-Range sends back: a strong ETag (a weak one may not be used there, RFC 9110 13.1.5), else Last-Modified. */
export function validatorOf(res: BodyResponse): string | null {
  const etag = header(res, 'etag');
  return etag && !etag.startsWith('W/') ? etag : (header(res, 'last-modified') ?? null);
}

export function contentLength(res: BodyResponse): number | null {
  const raw = header(res, 'content-length');
  if (raw === undefined) return null;
  const n = Number(raw);
  return /^\d+$/.test(raw.trim()) && Number.isSafeInteger(n) ? n : null;
}
