import * as path from 'path';
import { ImprintError } from '../errors';
import { rewrapFolderKey, type FolderEncryption } from '../formats/backup-folder/folder-crypto';
import { MARKER_FILE, openFolder, writeFileAtomic, type FolderMarker } from '../formats/backup-folder/folder-layout';
import { lockFolder } from '../formats/backup-folder/folder-lock';

/**
 * `imprint backups passphrase FOLDER`: the encrypted folder opens with a new
 * passphrase, and no longer with the old one. Only the marker changes (its
 * encryption record: folder-crypto.ts's rewrapFolderKey); pieces, names and
 * indexes stay as they are, so it takes a moment whatever the folder holds,
 * and the next backup still finds every piece stored before.
 *
 * The marker is replaced as every file of a folder is written: a temporary
 * file, fsynced, renamed, the folder fsynced (writeFileAtomic). Stopped at
 * any point, the folder opens with exactly one of the two passphrases.
 * Under the folder's lock, so no backup starts meanwhile; readers at work
 * hold the keys already, which do not change.
 */
export function changeFolderPassphrase(folder: string, current: string | null, next: string | null): { folder: string } {
  const refuseUnencrypted = (m: FolderMarker): FolderEncryption => {
    if (!m.encryption) throw new ImprintError('E_BAD_ARGUMENTS', `${folder} is not encrypted: it has no passphrase to change (a plain folder is not encrypted in place; back up into a new folder with --encrypt).`);
    return m.encryption;
  };
  refuseUnencrypted(openFolder(folder));
  if (!current) throw new ImprintError('E_PASSPHRASE_NEEDED', `Give the current passphrase of ${folder} (--passphrase-file FILE or --passphrase-env NAME, or run on a terminal to be asked).`);
  if (!next) throw new ImprintError('E_PASSPHRASE_NEEDED', `Give the new passphrase for ${folder} (--new-passphrase-file FILE or --new-passphrase-env NAME, or run on a terminal to be asked).`);
  const lock = lockFolder(folder, 'passphrase change');
  try {
    // Read again under the lock: the record replaced is the one the new one is made from.
    const marker = openFolder(folder);
    const encryption = rewrapFolderKey(current, next, refuseUnencrypted(marker), folder);
    writeFileAtomic(folder, path.join(folder, MARKER_FILE), Buffer.from(JSON.stringify({ ...marker, encryption }, null, 2) + '\n'));
  } finally {
    lock.release();
  }
  return { folder };
}
