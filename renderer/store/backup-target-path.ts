import type { AppState } from './app-store';

/** The path a backup would write, as chosen: the file's, or the backup folder's (a drive holding it cannot be the source). */
export function backupDestinationPath(s: AppState): string {
  return s.backupFolder.destination === 'folder' ? s.backupFolder.folderInput : s.backup.pathInput;
}
