import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ChunkCrcStream, firstDifferentChunk } from '../io/chunk-crc';

/**
 * Finished, verified downloads kept in the user's cache folder, so a second
 * flash of the same image needs no network. Each entry is the file and a
 * small JSON record (URL, SHA-256 or per-chunk CRC-32s, size, when stored and last used). An entry
 * is hashed again before every reuse: a file altered on disk (bit rot, a
 * tool, a person) is dropped, never flashed. Files arrive under a temporary
 * name, are fsynced, then renamed: a crash never leaves a partial file under
 * an entry's name. Over the size limit, the entries used longest ago go first.
 */
export interface CacheEntry {
  key: string;
  url: string;
  /** The file name the URL ends with, for people. */
  name: string;
  /** Null when the entry is recorded by `crc32` alone. */
  sha256: string | null;
  /** Per-chunk CRC-32s, for an entry whose SHA-256 nobody computed (see ChunkCrcs). */
  crc32: ChunkCrcs | null;
  size: number;
  storedAt: number;
  usedAt: number;
  /** The cached file. */
  path: string;
}

/**
 * The CRC-32 of each `chunkSize` piece of a cached file (io/chunk-crc.ts):
 * how a download is recorded when nothing asked for its SHA-256. A raw image
 * flashed as it downloads, with no published checksum, has its per-chunk
 * CRCs taken by the flash anyway (for its verify), while a SHA-256 of it
 * would cost the flash 0.85-1 CPU-second per GiB for the cache alone. The
 * record guards against a file changed on disk (bit rot, a tool, a person),
 * as the SHA-256 does; neither guards against someone who can rewrite the
 * record too. A published SHA-256 is still computed over the cached file
 * and compared before reuse (find).
 */
export interface ChunkCrcs {
  chunkSize: number;
  crcs: number[];
}

/** The CRC record of a file of `size` bytes, checked for shape; null when it is not one. */
function parseCrcs(v: unknown, size: number): ChunkCrcs | null {
  if (!isRecord(v)) return null;
  const { chunkSize, crcs } = v;
  if (typeof chunkSize !== 'number' || !Number.isSafeInteger(chunkSize) || chunkSize < 4096 || chunkSize > 1 << 30 || !Array.isArray(crcs)) return null;
  if (crcs.length !== Math.ceil(size / chunkSize)) return null;
  if (!crcs.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 0xffffffff)) return null;
  return { chunkSize, crcs: crcs as number[] };
}

/**
 * Reads `file` once: its SHA-256 when asked for, and whether its chunks'
 * CRC-32s are `crc32`'s (true when there are none to compare).
 */
async function checkFile(file: string, want: { sha256: boolean; crc32: ChunkCrcs | null }, signal?: AbortSignal): Promise<{ sha256: string | null; crcsMatch: boolean }> {
  const h = want.sha256 ? crypto.createHash('sha256') : null;
  const crcs = want.crc32 ? new ChunkCrcStream(want.crc32.chunkSize) : null;
  for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20, signal })) {
    h?.update(c as Buffer);
    crcs?.update(c as Buffer);
  }
  return { sha256: h ? h.digest('hex') : null, crcsMatch: !crcs || !want.crc32 || firstDifferentChunk(crcs.end(), want.crc32.crcs) < 0 };
}

/** 10 GiB: two or three desktop OS images, or a dozen Raspberry Pi ones. */
export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 ** 3;

/**
 * The user's cache folder for Imprint, resolved at the edge (CLI, service)
 * from the environment: XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches
 * on macOS, %LOCALAPPDATA% on Windows.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (platform === 'win32') return path.win32.join(env.LOCALAPPDATA || path.win32.join(home, 'AppData', 'Local'), 'Imprint', 'Cache');
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Caches', 'Imprint');
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, '.cache');
  return path.join(xdg, 'imprint');
}

export function cacheKey(url: string): string {
  return crypto.createHash('sha256').update(url).digest('hex').slice(0, 24);
}

function safeName(url: string): string {
  let last = '';
  try {
    last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    // A name that does not decode is replaced below.
  }
  const cleaned = last.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 100);
  return cleaned || 'download';
}

export async function sha256OfFile(file: string, signal?: AbortSignal): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20, signal })) h.update(c as Buffer);
  return h.digest('hex');
}

function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class DownloadCache {
  constructor(
    readonly dir: string,
    readonly maxBytes: number = DEFAULT_CACHE_MAX_BYTES,
  ) {}

  private recordPath(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  /** Every entry whose record is well formed and whose file is there, most recently used first. */
  list(): CacheEntry[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const entries: CacheEntry[] = [];
    for (const n of names) {
      if (!/^[0-9a-f]{24}\.json$/.test(n)) continue;
      const e = this.read(n.slice(0, 24));
      if (e) entries.push(e);
    }
    return entries.sort((a, b) => b.usedAt - a.usedAt);
  }

  /** The record for `key`, checked for shape and that its file exists with the recorded size. */
  private read(key: string): CacheEntry | null {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(this.recordPath(key), 'utf8'));
    } catch {
      return null;
    }
    if (!isRecord(raw)) return null;
    const { url, name, sha256, size, storedAt, usedAt, file } = raw;
    if (typeof url !== 'string' || typeof name !== 'string') return null;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || typeof storedAt !== 'number' || typeof usedAt !== 'number' || typeof file !== 'string') return null;
    // A SHA-256, or CRCs of every chunk, or both; at least one.
    const sha = typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : null;
    if (sha256 !== undefined && sha256 !== null && sha === null) return null;
    const crc32 = raw.crc32 === undefined || raw.crc32 === null ? null : parseCrcs(raw.crc32, size);
    if ((raw.crc32 !== undefined && raw.crc32 !== null && crc32 === null) || (sha === null && crc32 === null)) return null;
    // The record names a file in this folder only: a crafted record cannot point elsewhere.
    if (file !== path.basename(file) || !file.startsWith(`${key}-`)) return null;
    const p = path.join(this.dir, file);
    try {
      if (fs.statSync(p).size !== size) return null;
    } catch {
      return null;
    }
    return { key, url, name, sha256: sha, crc32, size, storedAt, usedAt, path: p };
  }

  /**
   * A cached download of `url` that still hashes to its record (its SHA-256,
   * its chunks' CRC-32s), and to `expectedSha256` of the file when given: that
   * one is computed over the file whatever the record holds. A cached file
   * that no longer matches its record is removed.
   */
  async find(url: string, expectedSha256?: string | null, signal?: AbortSignal): Promise<CacheEntry | null> {
    const key = cacheKey(url);
    const entry = this.read(key);
    if (!entry || entry.url !== url) return null;
    const expected = expectedSha256?.toLowerCase() ?? null;
    if (expected && entry.sha256 && expected !== entry.sha256) return null;
    const actual = await checkFile(entry.path, { sha256: entry.sha256 !== null || expected !== null, crc32: entry.crc32 }, signal);
    if ((entry.sha256 && actual.sha256 !== entry.sha256) || !actual.crcsMatch) {
      this.remove(key);
      return null;
    }
    if (expected && actual.sha256 !== expected) return null;
    entry.usedAt = Date.now();
    this.writeRecord(entry);
    return entry;
  }

  /** A new file in the cache folder to download into, under a temporary name. */
  createTemp(url: string): { path: string; fd: number } {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const p = path.join(this.dir, `.${cacheKey(url)}.${crypto.randomBytes(6).toString('hex')}.part`);
    return { path: p, fd: fs.openSync(p, 'wx+', 0o600) };
  }

  /** Throws away a temporary file (a failed or unverified download). */
  discard(tempPath: string): void {
    fs.rmSync(tempPath, { force: true });
  }

  /**
   * Keeps a finished, verified download: fsyncs it, renames it into place,
   * records it, then evicts the oldest entries over the limit. Returns null
   * when the file alone is over the limit (it is not kept).
   */
  commit(tempPath: string, fd: number, meta: { url: string; sha256: string | null; crc32?: ChunkCrcs | null; size: number }): CacheEntry | null {
    if (!meta.sha256 && !meta.crc32) throw new Error('a cache entry needs a SHA-256 or chunk CRCs');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    if (meta.size > this.maxBytes) {
      this.discard(tempPath);
      return null;
    }
    const key = cacheKey(meta.url);
    this.remove(key);
    const name = safeName(meta.url);
    const final = path.join(this.dir, `${key}-${name}`);
    fs.renameSync(tempPath, final);
    const now = Date.now();
    const entry: CacheEntry = { key, url: meta.url, name, sha256: meta.sha256?.toLowerCase() ?? null, crc32: meta.crc32 ?? null, size: meta.size, storedAt: now, usedAt: now, path: final };
    this.writeRecord(entry);
    this.evict(key);
    return entry;
  }

  private writeRecord(e: CacheEntry): void {
    const tmp = path.join(this.dir, `.${e.key}.json.${process.pid}.tmp`);
    const record = { url: e.url, name: e.name, sha256: e.sha256, ...(e.crc32 ? { crc32: e.crc32 } : {}), size: e.size, storedAt: e.storedAt, usedAt: e.usedAt, file: path.basename(e.path) };
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeFileSync(fd, JSON.stringify(record));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.recordPath(e.key));
    fsyncDir(this.dir);
  }

  private remove(key: string): void {
    const e = this.read(key);
    fs.rmSync(this.recordPath(key), { force: true });
    if (e) fs.rmSync(e.path, { force: true });
    // A file whose record was lost or damaged still goes.
    for (const n of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      if (n.startsWith(`${key}-`)) fs.rmSync(path.join(this.dir, n), { force: true });
    }
  }

  /** Removes entries used longest ago until the total fits the limit; `keep` goes last. */
  evict(keep?: string): void {
    const entries = this.list().sort((a, b) => (a.key === keep ? 1 : 0) - (b.key === keep ? 1 : 0) || a.usedAt - b.usedAt);
    let total = entries.reduce((s, e) => s + e.size, 0);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      this.remove(e.key);
      total -= e.size;
    }
  }

  /** Removes every entry and leftover temporary file. */
  clear(): { entries: number; bytes: number } {
    const entries = this.list();
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return { entries: 0, bytes: 0 };
    }
    for (const n of names) {
      if (/^\.?[0-9a-f]{24}[.-]/.test(n)) fs.rmSync(path.join(this.dir, n), { force: true });
    }
    return { entries: entries.length, bytes: entries.reduce((s, e) => s + e.size, 0) };
  }
}
