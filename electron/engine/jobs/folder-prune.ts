import * as fs from 'fs';
import * as path from 'path';
import { ImprintError } from '../errors';
import { HASH_PATTERN, PIECES_DIR, clearTmp, fsyncFolder, pieceSuffix, GENERATIONS_DIR } from '../formats/backup-folder/folder-layout';
import { unlockFolder } from '../formats/backup-folder/folder-keys';
import { lockFolder } from '../formats/backup-folder/folder-lock';
import { refuseWhileRead } from '../formats/backup-folder/folder-readers';
import { listGenerations, readGeneration, removeGeneration, removeOrphanNames, type GenerationHeader } from '../formats/backup-folder/generation-index';
import { NAME_BYTES, NameSet } from '../formats/backup-folder/name-set';

/**
 * `imprint backups prune FOLDER --keep-last N [--keep-daily N] [--keep-weekly N]`:
 * removes the generations no rule keeps, then the pieces no remaining
 * generation names. Rules apply to each drive of the folder on its own.
 *
 * Crash-safe by order: the pieces to keep are worked out from the kept
 * indexes before anything is deleted; indexes go first (a generation
 * disappears whole), pieces after. Stopped anywhere, every kept generation
 * still has all its pieces; what is left over is pieces no index names,
 * which the next prune removes. It holds the folder's lock, so no backup
 * adds pieces meanwhile, and runs only while no reader is registered. A folder with a damaged index is not pruned: which
 * pieces that generation needs cannot be known.
 */

export interface PruneRules {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
}

export interface PruneCandidate {
  id: string;
  createdAt: string;
  /** Which drive it is of: generations of different drives are kept by their own rules. */
  drive: string;
}

/** ISO 8601 week of a UTC date, as "2026-W49". */
function isoWeek(iso: string): string {
  const d = new Date(iso);
  // The week belongs to the year of its Thursday; week 1 holds the year's first Thursday.
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7) + 3));
  const dayOfYear = (thursday.getTime() - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / 86400000;
  return `${thursday.getUTCFullYear()}-W${String(1 + Math.floor(dayOfYear / 7)).padStart(2, '0')}`;
}

/** The ids the rules keep: per drive, the newest N; the newest of each of the last N days; of each of the last N weeks. */
export function generationsToKeep(gens: readonly PruneCandidate[], rules: PruneRules): Set<string> {
  const keep = new Set<string>();
  const byDrive = new Map<string, PruneCandidate[]>();
  for (const g of gens) byDrive.set(g.drive, [...(byDrive.get(g.drive) ?? []), g]);
  for (const list of byDrive.values()) {
    const newest = [...list].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
    newest.slice(0, rules.keepLast ?? 0).forEach((g) => keep.add(g.id));
    const bucket = (n: number | undefined, key: (g: PruneCandidate) => string): void => {
      const seen = new Set<string>();
      for (const g of newest) {
        if (seen.size >= (n ?? 0)) break;
        const k = key(g);
        if (seen.has(k)) continue;
        seen.add(k);
        keep.add(g.id);
      }
    };
    bucket(rules.keepDaily, (g) => g.createdAt.slice(0, 10));
    bucket(rules.keepWeekly, (g) => isoWeek(g.createdAt));
  }
  return keep;
}

function driveOf(index: GenerationHeader): string {
  const s = index.metadata.source;
  return s.serial ? `serial:${s.serial}` : `${s.model ?? ''}|${s.device}|${index.metadata.size}`;
}

export interface PruneResult {
  kept: string[];
  removed: string[];
  piecesRemoved: number;
  bytesFreed: number;
}

/** Named points of a prune's run, in order ('index-removed' and 'piece-removed' once per file). */
export type PruneStep = 'locked' | 'planned' | 'index-removed' | 'indexes-synced' | 'piece-removed' | 'pieces-removed';

export interface PruneOptions {
  /** Called at each named point: the crash test (backup-folder-prune-kill.test.ts) kills the process there. */
  onStep?: (step: PruneStep) => void;
}

/** `passphrase`: of an encrypted folder (its indexes say which pieces to keep); a plain folder needs none. */
export function pruneFolder(folder: string, rules: PruneRules, passphrase?: string | null, opts: PruneOptions = {}): PruneResult {
  const step = opts.onStep ?? ((): void => undefined);
  const given = [rules.keepLast, rules.keepDaily, rules.keepWeekly].filter((n) => n !== undefined);
  if (given.length === 0) throw new ImprintError('E_BAD_ARGUMENTS', 'Say what to keep: --keep-last N, --keep-daily N and/or --keep-weekly N.');
  if (given.some((n) => !Number.isSafeInteger(n) || (n as number) < 1)) throw new ImprintError('E_BAD_ARGUMENTS', 'Each --keep-... takes a whole number of at least 1.');
  const keys = unlockFolder(folder, passphrase);
  const suffix = pieceSuffix(keys !== null);
  const lock = lockFolder(folder, 'prune', { excludesReaders: true });
  try {
    step('locked');
    // Readers (verify, restore, export...) may need any piece: none may be at work (folder-readers.ts).
    refuseWhileRead(folder);
    clearTmp(folder);
    removeOrphanNames(folder);
    const listed = listGenerations(folder, keys);
    const damaged = listed.filter((g) => 'error' in g);
    if (damaged.length > 0) {
      throw new ImprintError('E_CORRUPT_SOURCE', `Not pruning ${folder}: ${damaged.map((g) => `generation ${g.number} (${g.id})`).join(', ')} cannot be read, so which pieces it needs is unknown. Run imprint backups verify ${folder}.`);
    }
    const gens = listed as { id: string; number: number; index: GenerationHeader }[];
    const keep = generationsToKeep(gens.map((g) => ({ id: g.id, createdAt: g.index.metadata.createdAt, drive: driveOf(g.index) })), rules);
    // Names as bytes (name-set.ts), one generation's list in memory at a time: a drive's generations name millions of pieces each.
    const referenced = new NameSet();
    for (const g of gens) {
      if (!keep.has(g.id)) continue;
      let names: Buffer;
      try {
        names = readGeneration(folder, g.id, keys).pieces.names;
      } catch (err) {
        throw new ImprintError('E_CORRUPT_SOURCE', `Not pruning ${folder}: generation ${g.number} (${g.id}) cannot be read, so which pieces it needs is unknown (${(err as Error).message}). Run imprint backups verify ${folder}.`, { cause: err });
      }
      for (let at = 0; at < names.length; at += NAME_BYTES) referenced.add(names, at);
    }
    const removed = gens.filter((g) => !keep.has(g.id)).map((g) => g.id);
    step('planned');
    for (const id of removed) {
      removeGeneration(folder, id);
      step('index-removed');
    }
    if (removed.length > 0) fsyncFolder(path.join(folder, GENERATIONS_DIR));
    step('indexes-synced');
    let piecesRemoved = 0;
    let bytesFreed = 0;
    const piecesDir = path.join(folder, PIECES_DIR);
    for (const fan of fs.readdirSync(piecesDir)) {
      if (!/^[0-9a-f]{2}$/.test(fan)) continue;
      const dir = path.join(piecesDir, fan);
      let touched = false;
      for (const name of fs.readdirSync(dir)) {
        const hash = name.endsWith(suffix) ? name.slice(0, -suffix.length) : '';
        // Only Imprint's own piece files are ever deleted.
        if (!HASH_PATTERN.test(hash) || hash.slice(0, 2) !== fan || referenced.hasHex(hash)) continue;
        const file = path.join(dir, name);
        bytesFreed += fs.statSync(file).size;
        fs.rmSync(file);
        piecesRemoved++;
        touched = true;
        step('piece-removed');
      }
      if (touched) fsyncFolder(dir);
    }
    step('pieces-removed');
    return { kept: gens.filter((g) => keep.has(g.id)).map((g) => g.id), removed, piecesRemoved, bytesFreed };
  } finally {
    lock.release();
  }
}
