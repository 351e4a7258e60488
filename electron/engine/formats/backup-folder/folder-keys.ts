import * as fs from 'fs';
import * as path from 'path';
import { ImprintError } from '../../errors';
import { FolderKeys } from './folder-crypto';
import { MARKER_FILE, openFolder, type FolderMarker } from './folder-layout';

/**
 * The one step between a passphrase and a folder's keys, shared by every
 * command that reads or adds to a backup folder. A plain folder needs no
 * passphrase (one given is not used); an encrypted one needs the right one,
 * checked against the marker's key check before anything else is read.
 */

/** The keys of `folder` (null for a plain folder); E_PASSPHRASE_NEEDED or E_WRONG_PASSPHRASE when they cannot be had. */
export function unlockFolder(folder: string, passphrase: string | null | undefined): FolderKeys | null {
  return keysFor(folder, openFolder(folder), passphrase);
}

export function keysFor(folder: string, marker: FolderMarker, passphrase: string | null | undefined): FolderKeys | null {
  if (!marker.encryption) return null;
  if (!passphrase) {
    throw new ImprintError('E_PASSPHRASE_NEEDED', `The backup folder ${folder} is encrypted: give its passphrase (--passphrase-file FILE or --passphrase-env NAME, or run on a terminal to be asked).`);
  }
  return FolderKeys.unlock(passphrase, marker.encryption, folder);
}

/** Whether `folder` is an existing encrypted backup folder (false for a plain one, one not made yet, or not a folder): the CLI asks for a passphrase only then. */
export function isEncryptedFolder(folder: string): boolean {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(folder, MARKER_FILE), 'utf8')) as { encryption?: unknown } | null;
    return typeof v === 'object' && v !== null && v.encryption !== undefined;
  } catch {
    return false;
  }
}
