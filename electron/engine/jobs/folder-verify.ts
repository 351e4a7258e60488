import type { GenerationSummary } from '../../../shared/backup-folder-types';
import { ImprintError } from '../errors';
import type { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { unlockFolder } from '../formats/backup-folder/folder-keys';
import { listGenerations, readGeneration, type ListedGeneration } from '../formats/backup-folder/generation-index';
import { NAME_BYTES, NameSet } from '../formats/backup-folder/name-set';
import type { PieceList } from '../formats/backup-folder/piece-list';
import { PieceReader, type PieceProblem as PieceFileProblem, type PieceRead } from '../formats/backup-folder/piece-store';
import { ReadPace } from '../formats/backup-folder/read-pace';
import { whileReading, whileReadingSync } from '../formats/backup-folder/folder-readers';

/**
 * `imprint backups list` and `imprint backups verify`: what a folder holds,
 * and whether every piece every generation needs is there and intact.
 */

/** A listed generation (shared/backup-folder-types.ts, what the app shows), with the SHA-256 its backup recorded. */
export interface GenerationRow extends GenerationSummary {
  sha256: string | null;
}

function rowOf(g: ListedGeneration): GenerationRow {
  if ('error' in g) return { number: g.number, id: g.id, createdAt: null, device: null, model: null, serial: null, size: null, storedBytes: null, addedStoredBytes: null, addedBytes: null, sha256: null, error: g.error };
  const m = g.index.metadata;
  return {
    number: g.number,
    id: g.id,
    createdAt: m.createdAt,
    device: m.source.device,
    model: m.source.model,
    serial: m.source.serial,
    size: m.size,
    storedBytes: m.storage?.storedBytes ?? m.size,
    addedStoredBytes: g.index.added.storedBytes,
    addedBytes: g.index.added.bytes,
    sha256: m.sha256,
  };
}

/** `passphrase`: of an encrypted folder (checked before anything else is read); a plain folder needs none. */
export function listFolder(folder: string, passphrase?: string | null): GenerationRow[] {
  const keys = unlockFolder(folder, passphrase);
  return whileReadingSync(folder, `a listing of ${folder}`, () => listGenerations(folder, keys).map(rowOf));
}

export interface PieceProblem {
  hash: string;
  problem: 'missing' | 'damaged';
  detail: string;
  /** Each generation that needs the piece, and the drive ranges ([start, length]) it holds there. */
  affects: { number: number; id: string; ranges: [number, number][] }[];
}

export interface FolderVerifyResult {
  ok: boolean;
  generations: number;
  /** Distinct pieces read, their drive bytes, and their size in the folder. */
  pieces: number;
  bytes: number;
  storedBytes: number;
  /** Generations whose index cannot be read. */
  damagedIndexes: { number: number; id: string; error: string }[];
  problems: PieceProblem[];
  /** Generations that cannot be restored (a damaged index, or a piece missing or damaged). */
  unrestorable: { number: number; id: string }[];
}

/**
 * Reads every piece every generation names, once each, and checks it against
 * its name (SHA-256; in an encrypted folder it must also authenticate, and
 * match its keyed hash: a tampered piece is reported as damaged).
 * `readAhead`: read every piece ahead (tests; by default only once they
 * come from the disk rather than the page cache).
 */
export async function verifyFolder(folder: string, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; passphrase?: string | null; readAhead?: boolean } = {}): Promise<FolderVerifyResult> {
  const keys = unlockFolder(folder, opts.passphrase);
  return whileReading(folder, `a verify of ${folder}`, () => verifyHeld(folder, keys, opts));
}

type FoundProblem = Omit<PieceProblem, 'affects'>;

/** One distinct piece: its name and the length its generations give it. */
type PieceUse = { hash: string; length: number };

/** Pieces read the same way, one after the other or ahead (formats/backup-folder/read-pace.ts decides which). */
const BATCH = 64;

/**
 * Reads and checks every piece `uses` gives (0 to count - 1), in batches:
 * one after the other while they come from the page cache, ahead once they
 * come from the disk (a folder on a USB disk plugged in to be verified: the
 * bench drive's folder, its pages dropped, took 3.7-4.0 s one by one and
 * 2.1-2.6 s so). Between batches the event loop runs, so a Ctrl-C is heard.
 */
async function readAll(reader: PieceReader, count: number, uses: (i: number) => PieceUse, pace: ReadPace, signal: AbortSignal | undefined, onRead: (i: number, got: PieceRead) => void): Promise<void> {
  const checked = (i: number, file: Buffer | PieceFileProblem): void => {
    const u = uses(i);
    onRead(i, 'problem' in file ? file : reader.check(u.hash, u.length, file));
  };
  for (let from = 0; from < count; from += BATCH) {
    if (signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
    const to = Math.min(count, from + BATCH);
    if (pace.nextAhead()) {
      await new Promise<void>((resolve, reject) => reader.readAhead(from, to, uses, checked, (err) => (err === null ? resolve() : reject(err as Error))));
      continue;
    }
    for (let i = from; i < to; i++) {
      const u = uses(i);
      checked(i, pace.timed(() => reader.readFile(u.hash, u.length)));
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * The distinct pieces of every readable generation, each once, found one
 * generation at a time: a folder's generations of a large drive name
 * millions of pieces each, and only one list is held at once. A piece is
 * known by its name; a name given another length than before (only a
 * crafted or damaged index does that) is a use of its own.
 */
class DistinctPieces {
  readonly names = new NameSet();
  private lengths = new Uint32Array(1024);
  /** Uses whose length differs from the first one's of the same name, keyed `name:length`, numbered after the names. */
  private readonly odd = new Map<string, number>();
  private readonly oddUses: PieceUse[] = [];
  total = 0;

  /** Adds generation `pieces`' pieces; returns, per piece, the number of its use. */
  add(pieces: PieceList): Uint32Array {
    const uses = new Uint32Array(pieces.length);
    for (let i = 0; i < pieces.length; i++) {
      const length = pieces.size(i);
      const before = this.names.size;
      const k = this.names.add(pieces.names, i * NAME_BYTES);
      if (k === before) {
        if (k === this.lengths.length) {
          const more = new Uint32Array(k * 2);
          more.set(this.lengths);
          this.lengths = more;
        }
        this.lengths[k] = length;
        this.total += length;
        uses[i] = k;
      } else if (this.lengths[k] === length) uses[i] = k;
      else uses[i] = this.oddUse(pieces.hash(i), length);
    }
    return uses;
  }

  private oddUse(hash: string, length: number): number {
    const key = `${hash}:${length}`;
    let n = this.odd.get(key);
    if (n === undefined) {
      this.odd.set(key, (n = this.oddUses.length));
      this.oddUses.push({ hash, length });
      this.total += length;
    }
    return 0x80000000 + n;
  }

  get count(): number {
    return this.names.size + this.oddUses.length;
  }

  /** Use `i`, 0 to count - 1: the names first, then the odd uses. */
  use(i: number): PieceUse {
    if (i < this.names.size) return { hash: this.names.hex(i), length: this.lengths[i] as number };
    return this.oddUses[i - this.names.size] as PieceUse;
  }

  /** The number `add` gives the use `i` of use(). */
  static key(i: number, names: number): number {
    return i < names ? i : 0x80000000 + (i - names);
  }
}

async function verifyHeld(folder: string, keys: FolderKeys | null, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; readAhead?: boolean }): Promise<FolderVerifyResult> {
  const listed = listGenerations(folder, keys);
  const damagedIndexes: { number: number; id: string; error: string }[] = [];
  const readable: { number: number; id: string }[] = [];
  const distinct = new DistinctPieces();
  for (const g of listed) {
    if ('error' in g) {
      damagedIndexes.push({ number: g.number, id: g.id, error: g.error });
      continue;
    }
    try {
      distinct.add(readGeneration(folder, g.id, keys).pieces);
      readable.push(g);
    } catch (err) {
      damagedIndexes.push({ number: g.number, id: g.id, error: (err as Error).message });
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const reader = new PieceReader(folder, keys);
  let bytes = 0;
  let storedBytes = 0;
  const count = distinct.count;
  const uses = (i: number): PieceUse => distinct.use(i);
  /** Problems by the piece's use number: read several at once, pieces are checked in any order, and reported in the order the generations name them. */
  const found = new Map<number, FoundProblem>();
  await readAll(reader, count, uses, new ReadPace(opts.readAhead === true), opts.signal, (i, got) => {
    const u = uses(i);
    bytes += u.length;
    if (got.ok) storedBytes += got.storedBytes;
    else found.set(DistinctPieces.key(i, distinct.names.size), { hash: u.hash, problem: got.problem, detail: got.detail });
    opts.onProgress?.(bytes, distinct.total);
  });
  const problems = await affected(folder, keys, readable, distinct, found);
  const bad = new Map<string, number>();
  for (const d of damagedIndexes) bad.set(d.id, d.number);
  for (const p of problems) for (const a of p.affects) bad.set(a.id, a.number);
  const unrestorable = [...bad].map(([id, number]) => ({ number, id })).sort((a, b) => a.number - b.number);
  damagedIndexes.sort((a, b) => a.number - b.number);
  return { ok: unrestorable.length === 0, generations: listed.length, pieces: count, bytes, storedBytes, damagedIndexes, problems, unrestorable };
}

/**
 * The generations and drive ranges each problem piece affects, in the order
 * the generations first name the pieces: a second pass over the lists,
 * taken only when there are problems, holding only theirs.
 */
async function affected(folder: string, keys: FolderKeys | null, readable: { number: number; id: string }[], distinct: DistinctPieces, found: Map<number, FoundProblem>): Promise<PieceProblem[]> {
  if (found.size === 0) return [];
  const problems = new Map<number, PieceProblem>();
  for (const g of readable) {
    const pieces = readGeneration(folder, g.id, keys).pieces;
    const uses = distinct.add(pieces);
    for (let i = 0; i < pieces.length; i++) {
      const bad = found.get(uses[i] as number);
      if (!bad) continue;
      let p = problems.get(uses[i] as number);
      if (!p) problems.set(uses[i] as number, (p = { hash: bad.hash, problem: bad.problem, detail: bad.detail, affects: [] }));
      let ref = p.affects.find((a) => a.id === g.id);
      if (!ref) p.affects.push((ref = { number: g.number, id: g.id, ranges: [] }));
      ref.ranges.push([pieces.offset(i), pieces.size(i)]);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return [...problems.values()];
}
