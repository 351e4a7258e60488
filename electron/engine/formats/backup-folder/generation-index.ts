import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { asBackupMetadata, type BackupMetadata } from '../../../../shared/backup-metadata';
import { ImprintError } from '../../errors';
import { SEALED_NAMES_OVERHEAD, type FolderKeys } from './folder-crypto';
import { GENERATIONS_DIR, GENERATION_ID_PATTERN, HASH_PATTERN, MAX_PIECE_SIZE, generationNamesPath, generationPath, writeFileAtomic } from './folder-layout';
import { NAME_BYTES } from './name-set';
import { PieceList, cutNames, decodePieceList, pieceCount } from './piece-list';

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

/** A generation index without its piece list: what a listing shows. */
export interface GenerationHeader {
  kind: 'imprint-backup-generation';
  schema: 1 | 2 | 3;
  id: string;
  /** Drive bytes per piece when it was cut (pieces never cross a multiple of it). */
  pieceSize: number;
  metadata: BackupMetadata;
  /** What this generation added to the folder: pieces no earlier generation had. */
  added: { pieces: number; bytes: number; storedBytes: number };
}

/**
 * A generation index as the code uses it, its pieces listed. On disk
 * (piece-list.ts), schema 1 (the first folders) lists [offset, length, hex
 * name] per piece; schema 2 stores only the names, as `pieceCount` and
 * `pieceNames` (base64) in place of `pieces`; schema 3 (written since)
 * stores them in generations/<id>.names, the index holding `pieceCount`
 * and `pieceNamesSha256`. `schema` says which form it was read from, or is
 * to be written in.
 */
export interface GenerationIndex extends GenerationHeader {
  pieces: PieceList;
}

/** A generation as listed: its index without the pieces, or why it cannot be read. */
export type ListedGeneration = { id: string; number: number; index: GenerationHeader } | { id: string; number: number; error: string };

const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

const HEX64 = /^[0-9a-f]{64}$/;

/** The largest index file read: about the longest string V8 makes (2^29 - 24 characters); past it, reading fails anyway. */
const MAX_INDEX_BYTES = 512 << 20;

/** Why the parts of an index besides its piece list are not usable, or null. */
function headerProblem(g: Record<string, unknown>, expectedId: string): string | null {
  if (g.kind !== 'imprint-backup-generation' || (g.schema !== 1 && g.schema !== 2 && g.schema !== 3)) return 'it is not an Imprint generation index (or a newer one)';
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
  if (g.schema === 3) {
    if (!isSize(g.pieceCount) || g.pieceCount !== pieceCount(st.ranges, pieceSize)) return 'its piece count is not what its stored ranges cut into';
    if (typeof g.pieceNamesSha256 !== 'string' || !HEX64.test(g.pieceNamesSha256)) return 'its piece names checksum is malformed';
  }
  return null;
}

/**
 * Checks an index read from a folder (untrusted) and returns why it is not
 * usable, or null. Beyond its shape: every piece lies inside the drive, is
 * at most one piece long without crossing a piece boundary, comes in drive
 * order, and together they cover exactly the stored ranges. A schema 2 or 3
 * index, which holds only the names of that cut (piece-list.ts), gets the
 * `pieces` built from the cut in place of `pieceCount` and `pieceNames`
 * when it is usable, so the code that reads an index sees one form. A
 * schema 3 index's names come from `names()`: the bytes of its names file
 * (unsealed), or why they cannot be had.
 */
export function indexProblem(v: unknown, expectedId: string, names?: () => Buffer | string): string | null {
  if (typeof v !== 'object' || v === null) return 'it is not a JSON object';
  const g = v as Record<string, unknown>;
  const header = headerProblem(g, expectedId);
  if (header) return header;
  const pieceSize = g.pieceSize as number;
  const ranges = (g.metadata as BackupMetadata).storage!.ranges;
  if (g.schema === 3) {
    const raw = names ? names() : 'its piece names were not read';
    if (typeof raw === 'string') return raw;
    if (raw.length !== (g.pieceCount as number) * NAME_BYTES) return `its piece names file holds ${raw.length} bytes, not the ${g.pieceCount as number} names it counts`;
    if (crypto.createHash('sha256').update(raw).digest('hex') !== g.pieceNamesSha256) return 'its piece names file is not the one it was written with (checksum differs)';
    g.pieces = PieceList.ofCut(ranges, pieceSize, raw);
    delete g.pieceCount;
    delete g.pieceNamesSha256;
    return null;
  }
  if (g.schema === 2) {
    // The pieces are the ranges' cut, so only the names need checking; the list replaces them for the code that reads the index.
    const pieces = decodePieceList(ranges, pieceSize, g.pieceCount, g.pieceNames);
    if (typeof pieces === 'string') return pieces;
    g.pieces = pieces;
    delete g.pieceCount;
    delete g.pieceNames;
    return null;
  }
  if (!Array.isArray(g.pieces)) return 'it has no piece list';
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
  g.pieces = PieceList.ofRefs(g.pieces as PieceRef[]);
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

/** The parsed (and unsealed) JSON of a generation's index file; throws E_CORRUPT_SOURCE saying why it cannot be had. */
function readIndexFile(folder: string, id: string, keys: FolderKeys | null): unknown {
  const file = generationPath(folder, id);
  try {
    const st = fs.statSync(file);
    // A schema 3 index is its metadata: a few hundred KB, and its ranges (24 MiB for a million). A schema 2 one held
    // 43 bytes a piece (schema 3 exists for that), and older Imprints wrote them up to the longest string JavaScript
    // holds (512 MiB, 800 GiB in use); this reader took 256 MiB at most, and lets those generations restore now.
    if (st.size > MAX_INDEX_BYTES) throw new Error(`it is ${st.size} bytes`);
    const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return keys ? unseal(v, id, keys) : v;
  } catch (err) {
    throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${id} of ${folder} cannot be read: ${(err as Error).message}.`, { cause: err });
  }
}

/** Bytes a schema 3 generation's names file must hold: `count` names, sealed or not. */
function namesFileSize(count: number, keys: FolderKeys | null): number {
  return count * NAME_BYTES + (keys ? SEALED_NAMES_OVERHEAD : 0);
}

/** A schema 3 generation's piece names, read from their file (and unsealed), or why they cannot be had; the size is checked before reading. */
function readNames(folder: string, id: string, count: number, keys: FolderKeys | null): Buffer | string {
  const file = generationNamesPath(folder, id);
  let raw: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size !== namesFileSize(count, keys)) return `its piece names file holds ${size} bytes, not the ${count} names it counts`;
    raw = fs.readFileSync(file);
  } catch (err) {
    return `its piece names file cannot be read (${(err as Error).message})`;
  }
  if (!keys) return raw;
  return keys.openNames(id, raw) ?? 'its piece names file fails authentication (altered or damaged)';
}

/** Reads and checks one generation's index (unsealing it with `keys` in an encrypted folder); throws E_CORRUPT_SOURCE saying what is wrong with it. */
export function readGeneration(folder: string, id: string, keys: FolderKeys | null = null): GenerationIndex {
  const v = readIndexFile(folder, id, keys);
  const count = (v as Record<string, unknown> | null)?.pieceCount;
  const problem = indexProblem(v, id, () => (isSize(count) ? readNames(folder, id, count, keys) : 'its piece count is malformed'));
  if (problem) throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${id} of ${folder} is damaged or not Imprint's: ${problem}.`);
  return v as GenerationIndex;
}

/**
 * One generation's index without its piece list (a listing's): only the
 * index file is read, and a schema 3 one's names file looked at (present,
 * of the size its count says), not read. readGeneration checks the rest.
 */
export function readGenerationHeader(folder: string, id: string, keys: FolderKeys | null = null): GenerationHeader {
  const v = readIndexFile(folder, id, keys);
  const g = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  let problem = typeof v === 'object' && v !== null ? headerProblem(g, id) : 'it is not a JSON object';
  if (!problem && g.schema === 3) {
    const size = fs.statSync(generationNamesPath(folder, id), { throwIfNoEntry: false })?.size;
    const want = namesFileSize(g.pieceCount as number, keys);
    if (size !== want) problem = size === undefined ? 'its piece names file is missing' : `its piece names file holds ${size} bytes, not the ${g.pieceCount as number} names it counts`;
  }
  if (problem) throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${id} of ${folder} is damaged or not Imprint's: ${problem}.`);
  const { pieces: _p, pieceNames: _n, pieceCount: _c, pieceNamesSha256: _s, ...header } = g;
  return header as unknown as GenerationHeader;
}

/**
 * Writes a generation's index, in the form its `schema` says: after this
 * returns, the generation exists (and not a moment before). A schema 3
 * generation's names file is written first, durably, then the index that
 * names its checksum: a crash between leaves a names file no index names,
 * which removeOrphanNames() takes away under the folder's lock.
 */
export function writeGeneration(folder: string, index: GenerationIndex, keys: FolderKeys | null = null): void {
  let body: Record<string, unknown>;
  if (index.schema === 3) {
    const names = indexNames(index);
    writeFileAtomic(folder, generationNamesPath(folder, index.id), keys ? keys.sealNames(index.id, names) : names);
    const { pieces: _pieces, ...rest } = index;
    body = { ...rest, pieceCount: index.pieces.length, pieceNamesSha256: crypto.createHash('sha256').update(names).digest('hex') };
  } else body = index.schema === 2 ? compactIndex(index) : { ...index, pieces: [...index.pieces] };
  let json = Buffer.from(JSON.stringify(body) + '\n');
  if (keys) {
    const sealed: SealedIndex = { kind: 'imprint-backup-generation-sealed', schema: 1, sealed: keys.sealIndex(index.id, json).toString('base64') };
    json = Buffer.from(JSON.stringify(sealed) + '\n');
  }
  writeFileAtomic(folder, generationPath(folder, index.id), json);
}

/** The names of `index`'s pieces, checked to be the cut of its ranges. */
function indexNames(index: GenerationIndex): Buffer {
  try {
    return cutNames(index.pieces, index.metadata.storage?.ranges ?? [], index.pieceSize);
  } catch (err) {
    throw new ImprintError('E_INTERNAL', `The index of generation ${index.id} does not match its stored ranges (a bug in Imprint): ${(err as Error).message}`, { cause: err });
  }
}

/** A schema 2 index as it was written: the piece list replaced by the pieces' names, in base64 (older folders; tests). */
export function compactIndex(index: GenerationIndex): Record<string, unknown> {
  const { pieces, ...rest } = index;
  return { ...rest, schema: 2, pieceCount: pieces.length, pieceNames: indexNames(index).toString('base64') };
}

/** Removes the generation `id`: its index first (the generation is gone from then on), then its names file. */
export function removeGeneration(folder: string, id: string): void {
  fs.rmSync(generationPath(folder, id), { force: true });
  fs.rmSync(generationNamesPath(folder, id), { force: true });
}

/** Names files whose index does not exist (a backup stopped between the two, a prune between its removals); only under the folder's lock. */
export function removeOrphanNames(folder: string): void {
  const dir = path.join(folder, GENERATIONS_DIR);
  const names = fs.readdirSync(dir);
  const indexes = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
  for (const n of names) {
    const id = n.endsWith('.names') ? n.slice(0, -6) : '';
    if (GENERATION_ID_PATTERN.test(id) && !indexes.has(id)) fs.rmSync(path.join(dir, n), { force: true });
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

/**
 * Every generation, numbered from 1 (oldest), each index read and checked
 * without its piece list (readGenerationHeader): readGeneration reads one
 * generation's list when it is needed, so no more than one is in memory.
 */
export function listGenerations(folder: string, keys: FolderKeys | null = null): ListedGeneration[] {
  return generationIds(folder).map((id, i) => {
    try {
      return { id, number: i + 1, index: readGenerationHeader(folder, id, keys) };
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
