import * as fs from 'fs';
import { ImprintError } from '../../errors';
import type { FolderKeys } from './folder-crypto';
import { unlockFolder } from './folder-keys';
import { resolveGeneration, type GenerationIndex } from './generation-index';

/**
 * How a user names a generation of a backup folder: FOLDER (the latest) or
 * FOLDER#GEN, GEN a list number or an id. The one resolution that restore,
 * export and browsing (ls, extract) share.
 */

/** FOLDER or FOLDER#GEN, when FOLDER is a folder; null when `ref` names something else (a backup file, an image, a drive). */
export function parseFolderRef(ref: string): { folder: string; generation: string | undefined } | null {
  const isDir = (p: string): boolean => {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (isDir(ref)) return { folder: ref, generation: undefined };
  const hash = ref.lastIndexOf('#');
  if (hash > 0 && isDir(ref.slice(0, hash))) return { folder: ref.slice(0, hash), generation: ref.slice(hash + 1) };
  return null;
}

/**
 * The generation `ref` names, its index read and checked, and the folder's
 * keys (null for a plain folder); a clear refusal when `ref` is not a backup
 * folder, has no such generation, or is encrypted and `passphrase` does not open it.
 */
export function resolveFolderRef(ref: string, passphrase?: string | null): { folder: string; index: GenerationIndex; keys: FolderKeys | null } {
  const parsed = parseFolderRef(ref);
  if (!parsed) throw new ImprintError('E_SOURCE_NOT_FOUND', `${ref} is not a backup folder.`);
  const keys = unlockFolder(parsed.folder, passphrase);
  return { folder: parsed.folder, index: resolveGeneration(parsed.folder, parsed.generation, keys), keys };
}
