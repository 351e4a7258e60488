import * as fs from 'fs';
import * as path from 'path';
import { asBackupMetadata, type BackupMetadata } from '../../../../shared/backup-metadata';
import { ImprintError } from '../../errors';
import type { FolderKeys } from './folder-crypto';
import { GENERATIONS_DIR, GENERATION_ID_PATTERN, HASH_PATTERN, MAX_PIECE_SIZE, generationPath, writeFileAtomic } from './folder-layout';
import { decodePieceList, encodePieceNames } from './piece-list';

/**
 * A generation: one backup of one drive into a folder. Its index names the
 * pieces in drive order and carries the drive's description exactly as a
 * standalone smart backup records it (partition table, storage plan with its
 * ranges and per-chunk CRC-32s, SHA-256 of the stored data), so a restore or
 * an export needs nothing else. It is written last, atomically; a
 * generation exists once its index is under its name, and not before.
 *
 * In an encrypted folder the file holds a SealedIndex: the index's JSON
 * sealed with AES-256-GCM, bound to the generation's id (folder-crypto.ts).
 */

/** What an encrypted folder's generations/<id>.json holds. */
interface SealedIndex {
  kind: 'imprint-backup-generation-sealed';
  schema: 1;
  /** base64 of nonce, ciphertext, tag. */
  sealed: string;
}

/** One piece of a generation: drive offset, bytes, SHA-256 of those bytes (the piece's name). */
export type PieceRef = [offset: number, length: number, hash: string];

/**
 * A generation index as the code uses it, pieces spelled out. On disk,
 * schema 1 (the first folders) lists [offset, length, hex name] per piece;
 * schema 2 (written since) stores only the names (piece-list.ts), as
 * `pieceCount` and `pieceNames` in place of `pieces`. `schema` says which
 * form it was read from, or is to be written in.
 */
export interface GenerationIndex {
  kind: 'imprint-backup-generation';
  schema: 1 | 2;
  id: string;
  /** Drive bytes per piece when it was cut (pieces never cross a multiple of it). */
  pieceSize: number;
  metadata: BackupMetadata;
  pieces: PieceRef[];
  /** What this generation added to the folder: pieces no earlier generation had. */
  added: { pieces: number; bytes: number; storedBytes: number };
}

/** A generation as listed: its index, or why it cannot be read. */
export type ListedGeneration = { id: string; number: number; index: GenerationIndex } | { id: string; number: number; error: string };

const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Checks an index read from a folder (untrusted) and returns why it is not
 * usable, or null. Beyond its shape: every piece lies inside the drive, is
 * at most one piece long without crossing a piece boundary, comes in drive
 * order, and together they cover exactly the stored ranges. A schema 2
 * index, which holds only the names of that cut (piece-list.ts), gets the
 * spelled-out `pieces` in place of `pieceCount` and `pieceNames` when it is
 * usable, so the code that reads an index sees one form.
 */
export function indexProblem(v: unknown, expectedId: string): string | null {
  if (typeof v !== 'object' || v === null) return 'it is not a JSON object';
  const g = v as Record<string, unknown>;
  if (g.kind !== 'imprint-backup-generation' || (g.schema !== 1 && g.schema !== 2)) return 'it is not an Imprint generation index (or a newer one)';
  if (g.id !== expectedId) return `it calls itself ${JSON.stringify(g.id)}`;
  const pieceSize = g.pieceSize;
  if (!isSize(pieceSize) || pieceSize < 4096 || pieceSize > MAX_PIECE_SIZE) return 'its piece size is out of range';
  const m = asBackupMetadata(g.metadata);
  if (!m || !m.storage) return 'its drive description is missing or malformed';
  const st = m.storage;
  const chunks = Math.ceil(m.size / st.chunkSize);
  if (st.chunkSize !== 4 << 20 || Buffer.from(st.chunkCrc32, 'base64').length !== chunks * 4) return 'its chunk checksums do not match the drive size';
  const added = g.added as Record<string, unknown> | undefined;
  if (!added || !isSize(added.pieces) || !isSize(added.bytes) || !isSize(added.storedBytes)) return 'its "added" record is malformed';
  if (g.schema === 2) {
    // The pieces are the ranges' cut, so only the names need checking; the list replaces them for the code that reads the index.
    const pieces = decodePieceList(st.ranges, pieceSize, g.pieceCount, g.pieceNames);
    if (typeof pieces === 'string') return pieces;
    g.pieces = pieces;
    delete g.pieceCount;
    delete g.pieceNames;
    return null;
  }
  if (!Array.isArray(g.pieces)) return 'it has no piece list';
  const ranges = st.ranges;
  let r = 0;
  let at = ranges[0]?.[0] ?? 0;
  for (let i = 0; i < g.pieces.length; i++) {
    const p = g.pieces[i] as unknown;
    if (!Array.isArray(p) || p.length !== 3 || !isSize(p[0]) || !isSize(p[1]) || typeof p[2] !== 'string' || !HASH_PATTERN.test(p[2])) return `piece ${i} is malformed`;
    const [offset, length] = p as [number, number];
    if (length === 0 || (offset % pieceSize) + length > pieceSize) return `piece ${i} (${length} bytes at ${offset}) crosses a piece boundary or is empty`;
    const range = ranges[r];
    if (!range || offset !== at || offset + length > range[0] + range[1]) return `piece ${i} (${length} bytes at ${offset}) is not where the stored ranges continue`;
    at = offset + length;
    if (at === range[0] + range[1]) {
      r++;
      at = ranges[r]?.[0] ?? at;
    }
  }
  if (r !== ranges.length) return 'its pieces do not cover all the stored ranges';
  return null;
}

/** The index inside an encrypted folder's index file, or why it cannot be had. */
function unseal(v: unknown, id: string, keys: FolderKeys): unknown {
  const e = v as Partial<SealedIndex> | null;
  if (typeof e !== 'object' || e === null || e.kind !== 'imprint-backup-generation-sealed' || e.schema !== 1 || typeof e.sealed !== 'string') throw new Error('it is not a sealed index, as an encrypted folder holds');
  const json = keys.openIndex(id, Buffer.from(e.sealed, 'base64'));
  if (!json) throw new Error('it fails authentication (altered or damaged)');
  return JSON.parse(json.toString('utf8'));
}

/** Reads and checks one generation's index (unsealing it with `keys` in an encrypted folder); throws E_CORRUPT_SOURCE saying what is wrong with it. */
export function readGeneration(folder: string, id: string, keys: FolderKeys | null = null): GenerationIndex {
  const file = generationPath(folder, id);
  let v: unknown;
  try {
    const st = fs.statSync(file);
    // Generous: 64 bytes a piece of a 2 TiB drive is still under 150 MiB (200 MiB as base64); anything larger is not ours.
    if (st.size > 256 << 20) throw new Error(`it is ${st.size} bytes`);
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (keys) v = unseal(v, id, keys);
  } catch (err) {
    throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${id} of ${folder} cannot be read: ${(err as Error).message}.`, { cause: err });
  }
  const problem = indexProblem(v, id);
  if (problem) throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${id} of ${folder} is damaged or not Imprint's: ${problem}.`);
  return v as GenerationIndex;
}

/** Writes a generation's index, in the form its `schema` says: after this returns, the generation exists (and not a moment before). */
export function writeGeneration(folder: string, index: GenerationIndex, keys: FolderKeys | null = null): void {
  let json = Buffer.from(JSON.stringify(index.schema === 1 ? index : compactIndex(index)) + '\n');
  if (keys) {
    const sealed: SealedIndex = { kind: 'imprint-backup-generation-sealed', schema: 1, sealed: keys.sealIndex(index.id, json).toString('base64') };
    json = Buffer.from(JSON.stringify(sealed) + '\n');
  }
  writeFileAtomic(folder, generationPath(folder, index.id), json);
}

/** A schema 2 index as it is written: the piece list replaced by the pieces' names. */
export function compactIndex(index: GenerationIndex): Record<string, unknown> {
  const { pieces, ...rest } = index;
  const ranges = index.metadata.storage?.ranges ?? [];
  try {
    return { ...rest, ...encodePieceNames(pieces, ranges, index.pieceSize) };
  } catch (err) {
    throw new ImprintError('E_INTERNAL', `The index of generation ${index.id} does not match its stored ranges (a bug in Imprint): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A fresh generation id: the time (UTC, to the second) and 6 random hex
 * digits. Ids order the generations (numbers, "latest"), so one made in the
 * same second as `after` (the folder's newest, read under its lock; two quick
 * backups of a small drive do that) takes the second after it instead: its
 * id may then run a second ahead of the time, which `createdAt` keeps exactly.
 */
export function newGenerationId(now: Date, after?: string): string {
  let time = Math.floor(now.getTime() / 1000) * 1000;
  const last = after ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(after) : null;
  if (last) {
    const lastTime = Date.UTC(Number(last[1]), Number(last[2]) - 1, Number(last[3]), Number(last[4]), Number(last[5]), Number(last[6]));
    if (lastTime >= time) time = lastTime + 1000;
  }
  const stamp = new Date(time).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0')}`;
}

/** Ids of the generations in a folder, oldest first (ids sort by time). Temporary and stray files are not generations. */
export function generationIds(folder: string): string[] {
  const names = fs.readdirSync(path.join(folder, GENERATIONS_DIR));
  return names.filter((n) => n.endsWith('.json') && GENERATION_ID_PATTERN.test(n.slice(0, -5))).map((n) => n.slice(0, -5)).sort();
}

/** Every generation, numbered from 1 (oldest), each read and checked. */
export function listGenerations(folder: string, keys: FolderKeys | null = null): ListedGeneration[] {
  return generationIds(folder).map((id, i) => {
    try {
      return { id, number: i + 1, index: readGeneration(folder, id, keys) };
    } catch (err) {
      return { id, number: i + 1, error: (err as Error).message };
    }
  });
}

/**
 * The generation `which` names in a folder: undefined or empty for the
 * latest, a list number (1 = oldest), or an id.
 */
export function resolveGeneration(folder: string, which: string | undefined, keys: FolderKeys | null = null): GenerationIndex {
  const ids = generationIds(folder);
  if (ids.length === 0) throw new ImprintError('E_NOT_A_BACKUP', `The backup folder ${folder} holds no generation yet.`);
  let id: string | undefined;
  if (which === undefined || which === '') id = ids[ids.length - 1];
  else if (/^\d+$/.test(which)) {
    id = ids[Number(which) - 1];
    if (!id) throw new ImprintError('E_BAD_ARGUMENTS', `${folder} holds generations 1 to ${ids.length}; there is no #${which}.`);
  } else {
    id = ids.find((x) => x === which);
    if (!id) throw new ImprintError('E_BAD_ARGUMENTS', `${folder} holds no generation ${which} (imprint backups list ${folder} shows them).`);
  }
  return readGeneration(folder, id as string, keys);
}
