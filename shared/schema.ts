/**
 * Tiny run-time validators. TypeScript's types are erased at run time; a
 * payload arriving over IPC or a WebSocket is `unknown` until one of these
 * has looked at it. Hand-written because shared/ imports nothing but itself.
 *
 * A schema returns the value it accepted (so objects come back with exactly
 * the declared keys) or a problem saying where and what, for the user.
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

export type Schema<T> = (value: unknown, at: string) => Checked<T>;

/** The type a schema accepts. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

const pass = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = (at: string, problem: string): Checked<never> => ({ ok: false, problem: `${at} ${problem}` });

/** A short, safe rendering of a rejected value for messages (never the whole of a huge string). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return value.length > 40 ? `a ${value.length}-character text` : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

export interface StringRules {
  min?: number;
  max: number;
  pattern?: RegExp;
  /** Said when the pattern does not match, e.g. "may contain only letters". */
  patternHint?: string;
}

/** A string within length bounds; no NUL characters (they cut paths short in the OS). */
export function str(rules: StringRules): Schema<string> {
  const min = rules.min ?? 0;
  return (value, at) => {
    if (typeof value !== 'string') return fail(at, `must be text, not ${describeValue(value)}`);
    if (value.length < min) return fail(at, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
    if (value.length > rules.max) return fail(at, `is too long (${value.length} characters; at most ${rules.max})`);
    if (value.includes('\0')) return fail(at, 'must not contain NUL characters');
    if (rules.pattern && !rules.pattern.test(value)) return fail(at, rules.patternHint ?? `has an unexpected form: ${describeValue(value)}`);
    return pass(value);
  };
}

/** Longest path accepted: PATH_MAX on Linux; Windows' long paths fit too. */
export const MAX_PATH_LENGTH = 4096;

/**
 * An absolute file or device path (POSIX `/...`, Windows `C:\...` or `\\server\...`).
 * Relative paths are refused: the service's working directory means nothing
 * to the person who typed the path.
 */
export function absolutePath(): Schema<string> {
  const text = str({ min: 1, max: MAX_PATH_LENGTH });
  return (value, at) => {
    const checked = text(value, at);
    if (!checked.ok) return checked;
    const v = checked.value;
    if (v.trim() !== v) return fail(at, `must not begin or end with spaces: ${describeValue(v)}`);
    if (!/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(v)) return fail(at, `must be a full path (starting with /), not ${describeValue(v)}`);
    return pass(v);
  };
}

export function bool(): Schema<boolean> {
  return (value, at) => (typeof value === 'boolean' ? pass(value) : fail(at, `must be true or false, not ${describeValue(value)}`));
}

/** One of a few fixed strings. */
export function oneOf<const T extends readonly string[]>(choices: T): Schema<T[number]> {
  return (value, at) =>
    typeof value === 'string' && (choices as readonly string[]).includes(value)
      ? pass(value as T[number])
      : fail(at, `must be one of ${choices.map((c) => `"${c}"`).join(', ')}, not ${describeValue(value)}`);
}

export interface ListRules {
  min?: number;
  max: number;
  /** Refuse the same entry twice. */
  unique?: boolean;
}

export function list<T>(item: Schema<T>, rules: ListRules): Schema<T[]> {
  const min = rules.min ?? 0;
  return (value, at) => {
    if (!Array.isArray(value)) return fail(at, `must be a list, not ${describeValue(value)}`);
    if (value.length < min) return fail(at, min === 1 ? 'must name at least one entry' : `must have at least ${min} entries`);
    if (value.length > rules.max) return fail(at, `has too many entries (${value.length}; at most ${rules.max})`);
    const out: T[] = [];
    for (let i = 0; i < value.length; i++) {
      const checked = item(value[i], `${at}[${i}]`);
      if (!checked.ok) return checked;
      if (rules.unique && out.includes(checked.value)) return fail(`${at}[${i}]`, `repeats ${describeValue(checked.value)}`);
      out.push(checked.value);
    }
    return pass(out);
  };
}

/** Marks an object field as optional: absent (or undefined) is fine, anything else must pass. */
export interface Optional<T> {
  optional: Schema<T>;
}

export function optional<T>(schema: Schema<T>): Optional<T> {
  return { optional: schema };
}

type Fields = Record<string, Schema<unknown> | Optional<unknown>>;

type ObjectOf<F extends Fields> = {
  [K in keyof F as F[K] extends Schema<unknown> ? K : never]: F[K] extends Schema<infer T> ? T : never;
} & {
  [K in keyof F as F[K] extends Optional<unknown> ? K : never]?: F[K] extends Optional<infer T> ? T : never;
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * An object with exactly these fields: unknown keys are refused (a typo in a
 * field name must not silently fall back to a default), and the value that
 * comes back is a fresh object holding only the declared fields.
 */
export function object<F extends Fields>(fields: F): Schema<{ [K in keyof ObjectOf<F>]: ObjectOf<F>[K] }> {
  const names = Object.keys(fields);
  return (value, at) => {
    if (!isPlainObject(value)) {
      // Class instances and objects with a borrowed prototype are not data.
      const what = typeof value === 'object' && value !== null && !Array.isArray(value) ? 'an object with a prototype' : describeValue(value);
      return fail(at, `must be a plain object, not ${what}`);
    }
    const unknown = Object.keys(value).filter((k) => !names.includes(k));
    if (unknown.length > 0) return fail(at, `has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
    const out: Record<string, unknown> = {};
    for (const name of names) {
      const field = fields[name] as Schema<unknown> | Optional<unknown>;
      const present = Object.prototype.hasOwnProperty.call(value, name) && value[name] !== undefined;
      if (typeof field !== 'function') {
        if (!present) continue;
        const checked = field.optional(value[name], `${at}.${name}`);
        if (!checked.ok) return checked;
        out[name] = checked.value;
        continue;
      }
      if (!present) return fail(`${at}.${name}`, 'is missing');
      const checked = field(value[name], `${at}.${name}`);
      if (!checked.ok) return checked;
      out[name] = checked.value;
    }
    return pass(out as { [K in keyof ObjectOf<F>]: ObjectOf<F>[K] });
  };
}

export interface NumberRules {
  min?: number;
  max?: number;
  /** Whole numbers only. */
  integer?: boolean;
}

/**
 * A finite number within bounds. JSON cannot spell NaN, but `1e400` parses
 * as Infinity, and a value that did not come through JSON may be either.
 */
export function num(rules: NumberRules = {}): Schema<number> {
  return (value, at) => {
    if (typeof value !== 'number') return fail(at, `must be a number, not ${describeValue(value)}`);
    if (!Number.isFinite(value)) return fail(at, `must be a finite number, not ${String(value)}`);
    if (rules.integer && !Number.isInteger(value)) return fail(at, `must be a whole number, not ${value}`);
    if (rules.min !== undefined && value < rules.min) return fail(at, `must be at least ${rules.min}, not ${value}`);
    if (rules.max !== undefined && value > rules.max) return fail(at, `must be at most ${rules.max}, not ${value}`);
    return pass(value);
  };
}

/** A count of bytes or things: a whole number from 0 up to 2^53 - 1, beyond which arithmetic on it is no longer exact. */
export function count(): Schema<number> {
  return num({ min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
}

/** Exactly this value (a union's tag, a fixed marker). */
export function literal<const T extends string | number | boolean>(expected: T): Schema<T> {
  return (value, at) => (value === expected ? pass(expected) : fail(at, `must be ${JSON.stringify(expected)}, not ${describeValue(value)}`));
}

/** The schema's value, or null. */
export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return (value, at) => (value === null ? pass(null) : schema(value, at));
}

/**
 * One of several object shapes, told apart by the text in field `key` (a
 * job event's `type`, job details' `kind`). Each variant's schema checks the
 * whole object, the tag field included; several tags may share one schema.
 */
export function union<K extends string, V extends Record<string, Schema<{ [P in K]: unknown }>>>(key: K, variants: V): Schema<Infer<V[keyof V]>> {
  const tags = Object.keys(variants);
  return (value, at) => {
    if (!isPlainObject(value)) return fail(at, `must be a plain object, not ${describeValue(value)}`);
    const tag = value[key];
    if (typeof tag !== 'string' || !Object.prototype.hasOwnProperty.call(variants, tag)) {
      const shown = tags.length > 12 ? `${tags.slice(0, 12).map((t) => `"${t}"`).join(', ')}...` : tags.map((t) => `"${t}"`).join(', ');
      return fail(`${at}.${key}`, tag === undefined ? 'is missing' : `must be one of ${shown}, not ${describeValue(tag)}`);
    }
    return (variants[tag] as Schema<Infer<V[keyof V]>>)(value, at);
  };
}
