import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError, errnoOf } from '../../errors';
import { LOCK_FILE, openFolder } from './folder-layout';
import type { FolderKeys } from './folder-crypto';
import { unlockFolder } from './folder-keys';
import { parseFolderRef } from './folder-ref';
import { resolveGeneration, type GenerationIndex } from './generation-index';
import { describeHolder, isStale, readHolder, type FolderLock, type LockHolder } from './folder-lock';

/**
 * Readers of a backup folder (list, verify, restore, export, browsing) and
 * prune, which deletes what they read, never overlap. A backup only adds
 * files, so it runs beside readers; prune takes the lock marked
 * `excludesReaders` (folder-lock.ts).
 *
 * A reader registers itself first, as FOLDER/readers/<pid>.<random>.json
 * naming its holder, and only then looks at the lock: held by a prune, it
 * withdraws and is refused. A prune takes the lock first and only then looks
 * for readers: a live one, and it releases the lock and is refused. Each
 * writes its own mark before reading the other's, so whichever comes second
 * sees the first; both may be refused at once, never both let through. A
 * reader that died (its pid no longer runs on this host) is ignored and its
 * file removed; one from another host stays until a person deletes it, as
 * with the lock.
 */

export const READERS_DIR = 'readers';
const READER_NAME = /^\d{1,10}\.[0-9a-f]{12}\.json$/;

/** Registers a reader of `folder` for `purpose`, or throws E_FOLDER_BUSY when a prune holds it. Release it when done. */
export function holdForReading(folder: string, purpose: string): FolderLock {
  const dir = path.join(folder, READERS_DIR);
  const file = path.join(dir, `${process.pid}.${crypto.randomBytes(6).toString('hex')}.json`);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), purpose };
  let registered = false;
  // Written under a name prune does not read, then renamed: a mark is never seen without its holder.
  const partial = path.join(dir, `.${path.basename(file)}.partial`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(partial, JSON.stringify(me) + '\n', { flag: 'wx' });
    fs.renameSync(partial, file);
    registered = true;
  } catch (err) {
    // A folder on read-only media (or not ours to write) cannot be pruned either: read it unregistered.
    fs.rmSync(partial, { force: true });
    const code = errnoOf(err);
    if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') throw err;
  }
  const release = (): void => {
    if (registered) fs.rmSync(file, { force: true });
    registered = false;
  };
  const lockFile = path.join(folder, LOCK_FILE);
  const holder = readHolder(lockFile);
  if (holder?.excludesReaders && !isStale(lockFile, holder)) {
    release();
    throw new ImprintError('E_FOLDER_BUSY', `Cannot start ${purpose}: the backup folder ${folder} is being pruned by ${describeHolder(holder)}. Try again when it has finished. If that process no longer runs, delete ${lockFile}.`);
  }
  return { release };
}

/** Runs `fn` while registered as a reader of `folder` (holdForReading), releasing after, whether it throws or not. */
export async function whileReading<T>(folder: string, purpose: string, fn: () => Promise<T> | T): Promise<T> {
  const hold = holdForReading(folder, purpose);
  try {
    return await fn();
  } finally {
    hold.release();
  }
}

/** The same, for synchronous work. */
export function whileReadingSync<T>(folder: string, purpose: string, fn: () => T): T {
  const hold = holdForReading(folder, purpose);
  try {
    return fn();
  } finally {
    hold.release();
  }
}

/**
 * For prune, holding the lock marked `excludesReaders`: throws E_FOLDER_BUSY
 * naming the readers at work. Files of readers that died are removed.
 */
export function refuseWhileRead(folder: string): void {
  const dir = path.join(folder, READERS_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw err;
  }
  const live: string[] = [];
  for (const name of names) {
    if (!READER_NAME.test(name)) continue;
    const file = path.join(dir, name);
    const holder = readHolder(file);
    if (isStale(file, holder)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    live.push(holder ? describeHolder(holder) : 'an Imprint process (its mark is being written)');
  }
  if (live.length > 0) {
    throw new ImprintError('E_FOLDER_BUSY', `Not pruning ${folder}: it is being read by ${live.join('; ')}. Prune deletes pieces a reader may still need: try again when it has finished. If that process no longer runs, delete its file in ${dir}.`);
  }
}

/**
 * Resolves FOLDER[#GEN] (folder-ref.ts) while registered as a reader, and
 * stays registered: the caller releases `hold` when it has read what it
 * needs. A folder that is not a backup folder is refused before anything
 * is written into it.
 */
export function holdFolderRef(ref: string, purpose: (folder: string) => string, passphrase?: string | null): { folder: string; index: GenerationIndex; keys: FolderKeys | null; hold: FolderLock } {
  const parsed = parseFolderRef(ref);
  if (!parsed) throw new ImprintError('E_SOURCE_NOT_FOUND', `${ref} is not a backup folder.`);
  openFolder(parsed.folder);
  // The passphrase is checked before the reader's mark is written: a wrong one leaves the folder as it was.
  const keys = unlockFolder(parsed.folder, passphrase);
  const hold = holdForReading(parsed.folder, purpose(parsed.folder));
  try {
    return { folder: parsed.folder, index: resolveGeneration(parsed.folder, parsed.generation, keys), keys, hold };
  } catch (err) {
    hold.release();
    throw err;
  }
}
