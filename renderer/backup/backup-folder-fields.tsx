import { useShallow } from 'zustand/react/shallow';
import { folderBackupEffect } from '../store/backup-folder-slice';
import { useApp } from '../store/store-context';
import { FolderEncryptionFields } from './folder-encryption-fields';

/** A backup folder's place: typed or chosen (a new one is created by the backup), and what the backup will do there. */
export function BackupFolderFields() {
  const { folderInput, notice } = useApp(useShallow((s) => ({ folderInput: s.backupFolder.folderInput, notice: s.backupFolder.notice })));
  const effect = useApp(folderBackupEffect);
  const typed = useApp((s) => s.backupFolderTyped);
  const choose = useApp((s) => s.backupFolderChooseRequested);
  return (
    <>
      <label htmlFor="backup-folder">Backup folder</label>
      <div className="path-row">
        <input
          id="backup-folder"
          type="text"
          spellCheck={false}
          autoComplete="off"
          placeholder="/home/me/backups/sdcard"
          value={folderInput}
          aria-describedby="backup-folder-effect"
          onChange={(e) => typed(e.target.value)}
        />
        <button type="button" className="button" onClick={() => void choose()}>
          Choose folder…
        </button>
      </div>
      <p id="backup-folder-effect" className="muted small tight" aria-live="polite">
        {effect ?? 'A new or empty folder, or a backup folder Imprint made. A folder that does not exist yet is created.'}
      </p>
      <p className="muted small tight">Stored compressed with zstd; only what the filesystems use is read.</p>
      <FolderEncryptionFields />
      {notice && <p className="note">{notice}</p>}
    </>
  );
}
