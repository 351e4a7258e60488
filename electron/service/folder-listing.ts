import * as fs from 'fs';
import * as path from 'path';
import type { FolderEntry, FolderListing } from '../../shared/ipc-contract';
import { ImprintError } from '../engine/errors';

/** Entries listed at most: a folder of thousands of files is no place to look for an image by eye. */
export const MAX_ENTRIES = 1000;

/** Whose read permission the file browser honours. */
export interface Reader {
  /** null: root without sudo (reads everything). */
  uid: number | null;
  gid: number | null;
}

/**
 * The person behind the app: browser mode runs as root to open drives, often
 * through sudo; the file browser shows what the user who ran sudo may read
 * (SUDO_UID / SUDO_GID), not everything root may. Read once, at the edge.
 */
export function readerOf(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): Reader {
  const sudoUid = Number(env.SUDO_UID);
  const sudoGid = Number(env.SUDO_GID);
  if (uid === 0 && Number.isSafeInteger(sudoUid) && sudoUid > 0) return { uid: sudoUid, gid: Number.isSafeInteger(sudoGid) ? sudoGid : null };
  if (uid === 0) return { uid: null, gid: null };
  return { uid: uid ?? null, gid: process.getgid?.() ?? null };
}

/** Whether the reader may read (and, for a folder, enter) it, by its mode bits. Supplementary groups are not consulted: it errs on hiding. */
export function mayRead(st: fs.Stats, reader: Reader): boolean {
  if (reader.uid === null) return true;
  const need = st.isDirectory() ? 0o5 : 0o4;
  const bits = st.uid === reader.uid ? (st.mode >> 6) & 7 : st.gid === reader.gid ? (st.mode >> 3) & 7 : st.mode & 7;
  return (bits & need) === need;
}

/**
 * A folder's files and subfolders for the file browser: hidden entries,
 * special files and what the reader may not read are left out; symlinks are
 * followed (their target is what is checked and listed).
 */
export function listFolder(dir: string, reader: Reader = readerOf()): FolderListing {
  let real: string;
  let st: fs.Stats;
  try {
    real = fs.realpathSync(dir);
    st = fs.statSync(real);
  } catch {
    throw new ImprintError('E_SOURCE_NOT_FOUND', `${dir} does not exist.`);
  }
  if (!st.isDirectory()) throw new ImprintError('E_BAD_ARGUMENTS', `${dir} is not a folder.`);
  if (!mayRead(st, reader)) throw new ImprintError('E_PERMISSION', `You may not open ${dir}.`);
  const entries: FolderEntry[] = [];
  let truncated = false;
  for (const name of fs.readdirSync(real).sort((a, b) => a.localeCompare(b))) {
    if (name.startsWith('.')) continue;
    let e: fs.Stats;
    try {
      e = fs.statSync(path.join(real, name));
    } catch {
      continue; // a dangling link, or gone meanwhile
    }
    if (!(e.isDirectory() || e.isFile()) || !mayRead(e, reader)) continue;
    if (entries.length >= MAX_ENTRIES) {
      truncated = true;
      break;
    }
    entries.push({ name, folder: e.isDirectory(), size: e.isFile() ? e.size : null });
  }
  entries.sort((a, b) => Number(b.folder) - Number(a.folder) || a.name.localeCompare(b.name));
  const parent = path.dirname(real);
  return { path: real, parent: parent === real ? null : parent, entries, truncated };
}
