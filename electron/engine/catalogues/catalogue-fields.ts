/**
 * Strict readers for fields of untrusted catalogue JSON. Each returns the
 * value or throws a FieldError naming the field; the parser adds the entry.
 * Text shown to people has control characters removed (a name must not
 * carry terminal escape sequences) and is bounded in length.
 */
export class FieldError extends Error {}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clean(text: string, max: number): string {
  const s = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ').replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function text(o: Json, key: string, opts: { required: true; max?: number }): string;
export function text(o: Json, key: string, opts?: { required?: false; max?: number }): string | null;
export function text(o: Json, key: string, opts: { required?: boolean; max?: number } = {}): string | null {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.required) throw new FieldError(`"${key}" is missing`);
    return null;
  }
  if (typeof v !== 'string') throw new FieldError(`"${key}" must be text, not ${describe(v)}`);
  const s = clean(v, opts.max ?? 300);
  if (opts.required && s === '') throw new FieldError(`"${key}" is empty`);
  return s;
}

/** A byte count: a non-negative safe integer, or (Fedora writes them so) a string of digits. */
export function size(o: Json, key: string, opts: { digitsAsText?: boolean } = {}): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  const n = typeof v === 'number' ? v : opts.digitsAsText && typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new FieldError(`"${key}" must be a whole number of bytes, not ${describe(v)}`);
  return n;
}

export function sha256(o: Json, key: string): string | null {
  const v = o[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) throw new FieldError(`"${key}" must be a SHA-256 (64 hexadecimal digits), not ${describe(v)}`);
  return v.toLowerCase();
}

/** A URL, resolved against the list's own address when relative; http(s) only. */
export function link(o: Json, key: string, base: string | null, opts: { required?: boolean } = {}): string | null {
  const v = text(o, key, { max: 4000 });
  if (v === null || v === '') {
    if (opts.required) throw new FieldError(`"${key}" is missing`);
    return null;
  }
  let u: URL;
  try {
    u = base ? new URL(v, base) : new URL(v);
  } catch {
    throw new FieldError(`"${key}" is not a URL: "${clean(v, 80)}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new FieldError(`"${key}" must be an http(s) URL, not ${u.protocol}`);
  return u.href;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `"${clean(v, 40)}"`;
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v).slice(0, 40)}`;
}
