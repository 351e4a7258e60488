import type { GenerationSummary } from '../../../shared/backup-folder-types';
import { ImprintError } from '../errors';
import type { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { unlockFolder } from '../formats/backup-folder/folder-keys';
import { listGenerations, type ListedGeneration } from '../formats/backup-folder/generation-index';
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

type PieceUse = { hash: string; length: number; refs: Map<string, { number: number; id: string; ranges: [number, number][] }> };

/** Pieces read the same way, one after the other or ahead (formats/backup-folder/read-pace.ts decides which). */
const BATCH = 64;

/**
 * Reads and checks every piece of `uses`, in batches: one after the other
 * while they come from the page cache, ahead once they come from the disk
 * (a folder on a USB disk plugged in to be verified: the bench drive's
 * folder, its pages dropped, took 3.7-4.0 s one by one and 2.1-2.6 s so).
 * Between batches the event loop runs, so a Ctrl-C is heard.
 */
async function readAll(reader: PieceReader, uses: readonly PieceUse[], pace: ReadPace, signal: AbortSignal | undefined, onRead: (i: number, got: PieceRead) => void): Promise<void> {
  const checked = (i: number, file: Buffer | PieceFileProblem): void => {
    const u = uses[i] as PieceUse;
    onRead(i, 'problem' in file ? file : reader.check(u.hash, u.length, file));
  };
  for (let from = 0; from < uses.length; from += BATCH) {
    if (signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
    const to = Math.min(uses.length, from + BATCH);
    if (pace.nextAhead()) {
      await new Promise<void>((resolve, reject) =>
        reader.readAhead(
          from,
          to,
          (i) => uses[i] as PieceUse,
          checked,
          (err) => (err === null ? resolve() : reject(err as Error)),
        ),
      );
      continue;
    }
    for (let i = from; i < to; i++) {
      const u = uses[i] as PieceUse;
      checked(i, pace.timed(() => reader.readFile(u.hash, u.length)));
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function verifyHeld(folder: string, keys: FolderKeys | null, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; readAhead?: boolean }): Promise<FolderVerifyResult> {
  const listed = listGenerations(folder, keys);
  const damagedIndexes = listed.flatMap((g) => ('error' in g ? [{ number: g.number, id: g.id, error: g.error }] : []));
  /** Uses of each piece, keyed by hash and length (a crafted index may name one hash with two lengths). */
  const uses = new Map<string, PieceUse>();
  let total = 0;
  for (const g of listed) {
    if ('error' in g) continue;
    for (const [offset, length, hash] of g.index.pieces) {
      const key = `${hash}:${length}`;
      let u = uses.get(key);
      if (!u) {
        uses.set(key, (u = { hash, length, refs: new Map() }));
        total += length;
      }
      let ref = u.refs.get(g.id);
      if (!ref) u.refs.set(g.id, (ref = { number: g.number, id: g.id, ranges: [] }));
      ref.ranges.push([offset, length]);
    }
  }
  const reader = new PieceReader(folder, keys);
  let bytes = 0;
  let storedBytes = 0;
  const list = [...uses.values()];
  /** Problems by the piece's place in `list`: read several at once, pieces are checked in any order, and reported in the order the generations name them. */
  const found: [number, PieceProblem][] = [];
  await readAll(reader, list, new ReadPace(opts.readAhead === true), opts.signal, (i, got) => {
    const u = list[i] as PieceUse;
    bytes += u.length;
    if (got.ok) storedBytes += got.storedBytes;
    else found.push([i, { hash: u.hash, problem: got.problem, detail: got.detail, affects: [...u.refs.values()] }]);
    opts.onProgress?.(bytes, total);
  });
  const problems = found.sort((a, b) => a[0] - b[0]).map(([, p]) => p);
  const bad = new Map<string, number>();
  for (const d of damagedIndexes) bad.set(d.id, d.number);
  for (const p of problems) for (const a of p.affects) bad.set(a.id, a.number);
  const unrestorable = [...bad].map(([id, number]) => ({ number, id })).sort((a, b) => a.number - b.number);
  return { ok: unrestorable.length === 0, generations: listed.length, pieces: uses.size, bytes, storedBytes, damagedIndexes, problems, unrestorable };
}
