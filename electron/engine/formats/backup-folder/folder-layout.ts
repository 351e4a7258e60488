import * as fs from 'fs';
import * as path from 'path';
import { ImprintError } from '../../errors';
import { fsyncChecked, writeFully } from '../../io/full-io';
import { encryptionProblem, type FolderEncryption } from './folder-crypto';

/**
 * Where things live in a backup folder (docs/backup-folder.md):
 *
 *   FOLDER/imprint-backup-folder.json   marker: what this folder is, its piece size
 *   FOLDER/lock                          held by the one process writing (folder-lock.ts)
 *   FOLDER/pieces/ab/<sha256>.zst        one zstd frame per piece, named by its content's SHA-256
 *   FOLDER/pieces/ab/<hmac>.enc          in an encrypted folder: the frame sealed (folder-crypto.ts)
 *   FOLDER/generations/<id>.json         one index per backup, written last
 *   FOLDER/tmp/                          files being written; anything here is debris
 *
 * Every name read back from the folder is checked against these patterns
 * before it becomes a path, so a crafted index cannot point outside it.
 */

export const MARKER_FILE = 'imprint-backup-folder.json';
export const PIECES_DIR = 'pieces';
export const GENERATIONS_DIR = 'generations';
export const TMP_DIR = 'tmp';
export const LOCK_FILE = 'lock';

/**
 * Bytes of drive per piece: pieces are cut at multiples of this drive offset
 * (docs/backup-folder.md has the measurement that chose it). A power of two
 * that divides the 4 MiB CRC chunk of a smart backup, so no piece spans two chunks.
 */
export const DEFAULT_PIECE_SIZE = 64 << 10;
/** Largest piece size a folder may declare (a crafted marker must not make us allocate gigabytes). */
export const MAX_PIECE_SIZE = 4 << 20;

export const HASH_PATTERN = /^[0-9a-f]{64}$/;
/** A generation id: UTC time of the backup and 6 random hex digits, e.g. 20261206T074512Z-3fa09c. */
export const GENERATION_ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/**
 * Schema 1: a plain folder. Schema 2: an encrypted one, with `encryption`;
 * its own number so that an Imprint that predates encryption refuses the
 * folder rather than misreading it.
 */
export interface FolderMarker {
  kind: 'imprint-backup-folder';
  schema: 1 | 2;
  createdAt: string;
  pieceSize: number;
  encryption?: FolderEncryption;
}

/** File name ending of a piece: a zstd frame, or (encrypted folder) a sealed one. */
export function pieceSuffix(sealed: boolean): string {
  return sealed ? '.enc' : '.zst';
}

export function piecePath(folder: string, hash: string, sealed = false): string {
  return piecePathIn(path.join(folder, PIECES_DIR), hash, sealed);
}

/**
 * piecePath, given the folder's pieces/ directory already joined: a restore
 * opens about 12,000 pieces per GB, and path.join normalising the whole path
 * each time took 2-5 us of the 15 us a piece's open, read and close take.
 */
export function piecePathIn(piecesDir: string, hash: string, sealed = false): string {
  if (!HASH_PATTERN.test(hash)) throw new ImprintError('E_INTERNAL', `Not a piece name: ${hash}`);
  return `${piecesDir}${path.sep}${hash.slice(0, 2)}${path.sep}${hash}${pieceSuffix(sealed)}`;
}

export function generationPath(folder: string, id: string): string {
  if (!GENERATION_ID_PATTERN.test(id)) throw new ImprintError('E_INTERNAL', `Not a generation id: ${id}`);
  return path.join(folder, GENERATIONS_DIR, `${id}.json`);
}

/** A schema 3 generation's piece names (piece-list.ts), beside its index. */
export function generationNamesPath(folder: string, id: string): string {
  if (!GENERATION_ID_PATTERN.test(id)) throw new ImprintError('E_INTERNAL', `Not a generation id: ${id}`);
  return path.join(folder, GENERATIONS_DIR, `${id}.names`);
}

/** fsync of a folder: makes the names created or renamed in it durable. */
export function fsyncFolder(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fsyncChecked(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `data` under `final` so that the name appears only with the whole
 * content durable behind it: a temporary file in FOLDER/tmp, fsync, rename,
 * fsync of the destination folder. A failure removes the temporary file.
 */
export function writeFileAtomic(folder: string, final: string, data: Buffer, opts: { syncDir?: boolean } = {}): void {
  const tmp = path.join(folder, TMP_DIR, `${path.basename(final)}.${process.pid}.${Math.random().toString(16).slice(2, 10)}`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  try {
    try {
      writeFully(fd, data, 0);
      fsyncChecked(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, final);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  if (opts.syncDir !== false) fsyncFolder(path.dirname(final));
}

function readMarker(folder: string): FolderMarker | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(folder, MARKER_FILE), 'utf8');
  } catch {
    return null;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const m = v as Partial<FolderMarker> | null;
  if (!m || m.kind !== 'imprint-backup-folder' || typeof m.createdAt !== 'string') return null;
  if (m.schema === 1 ? m.encryption !== undefined : m.schema !== 2 || encryptionProblem(m.encryption) !== null) return null;
  const size = m.pieceSize;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 4096 || size > MAX_PIECE_SIZE || size % 4096 !== 0 || (4 << 20) % size !== 0) return null;
  return m as FolderMarker;
}

/** The marker of an existing backup folder; a clear refusal when `folder` is not one. */
export function openFolder(folder: string): FolderMarker {
  let st: fs.Stats;
  try {
    st = fs.statSync(folder);
  } catch {
    throw new ImprintError('E_SOURCE_NOT_FOUND', `The backup folder ${folder} does not exist.`);
  }
  if (!st.isDirectory()) throw new ImprintError('E_NOT_A_BACKUP', `${folder} is not a folder.`);
  const marker = readMarker(folder);
  if (!marker) throw new ImprintError('E_NOT_A_BACKUP', `${folder} is not an Imprint backup folder (no valid ${MARKER_FILE} in it).`);
  return marker;
}

/** Names a backup folder may hold before its marker exists (another writer may be making it). */
const OWN_NAMES = new Set([MARKER_FILE, LOCK_FILE, PIECES_DIR, GENERATIONS_DIR, TMP_DIR]);

/**
 * Makes sure `folder` can become or is a backup folder, creating it when it
 * does not exist. A folder that holds other things is refused: backups never
 * mix with a person's files (and prune must never delete them). Call before
 * taking the lock (which lives in the folder); then `ensureMarker`.
 */
export function claimFolder(folder: string): void {
  try {
    fs.mkdirSync(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImprintError('E_TARGET_NOT_FOUND', `Cannot create ${folder}: the folder ${path.dirname(path.resolve(folder))} does not exist.`);
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (!fs.statSync(folder).isDirectory()) throw new ImprintError('E_BAD_ARGUMENTS', `${folder} is a file, not a folder. --into takes a backup folder (new or existing).`);
  if (holdsForeignFiles(folder)) {
    throw new ImprintError('E_OUTPUT_EXISTS', `${folder} is not empty and is not an Imprint backup folder: give a new or empty folder (backups never mix with other files).`);
  }
}

/** True when `folder` (an existing folder) is not a backup folder and holds files that are not a backup folder's. */
export function holdsForeignFiles(folder: string): boolean {
  return !readMarker(folder) && fs.readdirSync(folder).some((e) => !OWN_NAMES.has(e));
}

/**
 * The folder's marker, written now (with its subfolders) if the folder is
 * new, encrypted when `encryption` is given. An existing folder keeps what
 * it is: the caller checks the marker returned. Call while holding the lock.
 */
export function ensureMarker(folder: string, pieceSize = DEFAULT_PIECE_SIZE, encryption?: FolderEncryption): FolderMarker {
  ensureSubfolders(folder);
  const existing = readMarker(folder);
  if (existing) return existing;
  const createdAt = new Date().toISOString();
  const marker: FolderMarker = encryption ? { kind: 'imprint-backup-folder', schema: 2, createdAt, pieceSize, encryption } : { kind: 'imprint-backup-folder', schema: 1, createdAt, pieceSize };
  writeFileAtomic(folder, path.join(folder, MARKER_FILE), Buffer.from(JSON.stringify(marker, null, 2) + '\n'));
  fsyncFolder(path.dirname(path.resolve(folder)));
  return marker;
}

/** claimFolder then ensureMarker, for callers that need no lock (tests, a folder nobody else uses). */
export function openOrCreateFolder(folder: string, pieceSize = DEFAULT_PIECE_SIZE, encryption?: FolderEncryption): FolderMarker {
  claimFolder(folder);
  return ensureMarker(folder, pieceSize, encryption);
}

function ensureSubfolders(folder: string): void {
  for (const d of [PIECES_DIR, GENERATIONS_DIR, TMP_DIR]) fs.mkdirSync(path.join(folder, d), { recursive: true });
}

/** Removes what an interrupted writer left in FOLDER/tmp (only called while holding the lock). */
export function clearTmp(folder: string): void {
  const dir = path.join(folder, TMP_DIR);
  for (const e of fs.readdirSync(dir)) fs.rmSync(path.join(dir, e), { force: true, recursive: true });
}
