import { useShallow } from 'zustand/react/shallow';
import { COMPRESSIONS, backupBlocker, currentOutputCheck, type Compression } from '../store/backup-slice';
import { useApp } from '../store/store-context';
import { BackupFolderFields } from './backup-folder-fields';
import { BackupModeChoice } from './backup-plan';
import { DestinationChoice } from './destination-choice';
import { PASSPHRASE_FIELD } from './folder-encryption-fields';

const COMPRESSION_LABEL: Record<Compression, string> = {
  zstd: 'zstd (fast, small; recommended)',
  gzip: 'gzip (opens anywhere)',
  xz: 'xz (smallest, slow)',
  none: 'none (raw image, sparse file)',
};

/** The id that ties the action bar's Back up button to this form (it sits outside it, pinned to the window's bottom). */
export const BACKUP_FORM_ID = 'backup-form';

/** Step 2 of a backup: into a single file or a backup folder, and where. */
export function BackupForm() {
  const intoFolder = useApp((s) => s.backupFolder.destination === 'folder');
  const backupRequested = useApp((s) => s.backupRequested);
  return (
    <section className="card step" aria-labelledby="step-destination">
      <h2 id="step-destination">
        <span className="step-number">2</span> Destination
      </h2>
      <form
        id={BACKUP_FORM_ID}
        className="path-form"
        onSubmit={(e) => {
          e.preventDefault();
          // An encrypted folder's passphrase is read from its field now, for this one request (folder-encryption-fields.tsx).
          const passphrase = new FormData(e.currentTarget).get(PASSPHRASE_FIELD);
          void backupRequested(typeof passphrase === 'string' && passphrase !== '' ? passphrase : undefined);
        }}
      >
        <DestinationChoice />
        {intoFolder ? <BackupFolderFields /> : <BackupFileFields />}
      </form>
    </section>
  );
}

/** A single file's path, compression, smart or every sector, and whether to replace a file already there. */
function BackupFileFields() {
  const { pathInput, compression, overwrite, notice } = useApp(
    useShallow((s) => ({ pathInput: s.backup.pathInput, compression: s.backup.compression, overwrite: s.backup.overwrite, notice: s.backup.notice })),
  );
  const exists = useApp((s) => currentOutputCheck(s)?.exists === true);
  const nativeDialogs = useApp((s) => s.nativeDialogs);
  const a = useApp(
    useShallow((s) => ({
      backupPathTyped: s.backupPathTyped,
      backupPathChooseRequested: s.backupPathChooseRequested,
      compressionChosen: s.compressionChosen,
      overwriteToggled: s.overwriteToggled,
    })),
  );
  return (
    <>
      <label htmlFor="backup-path">Backup path</label>
      <div className="path-row">
        <input
          id="backup-path"
          type="text"
          spellCheck={false}
          autoComplete="off"
          placeholder="/home/me/backups/sdcard.img.zst"
          value={pathInput}
          onChange={(e) => a.backupPathTyped(e.target.value)}
        />
        {nativeDialogs && (
          <button type="button" className="button" onClick={() => void a.backupPathChooseRequested()}>
            Choose…
          </button>
        )}
      </div>
      <label htmlFor="compression">Compression</label>
      <select id="compression" value={compression} onChange={(e) => a.compressionChosen(e.target.value as Compression)}>
        {COMPRESSIONS.map((c) => (
          <option key={c} value={c}>
            {COMPRESSION_LABEL[c]}
          </option>
        ))}
      </select>
      <BackupModeChoice />
      {exists && (
        <div className="warning" role="note">
          <p className="tight">A file with this name is already there.</p>
          <label className="check">
            <input type="checkbox" checked={overwrite} onChange={a.overwriteToggled} />
            Replace the existing file
          </label>
        </div>
      )}
      {notice && <p className="note">{notice}</p>}
    </>
  );
}

/** Step 3: what will happen (or what is missing) and Back up, pinned to the bottom of the window. */
export function BackupActionBar() {
  const blocker = useApp(backupBlocker);
  const intoFolder = useApp((s) => s.backupFolder.destination === 'folder');
  const ready = intoFolder ? 'The drive is only read. Only data the backup folder does not hold yet is stored.' : 'The drive is only read. The backup is read back and checked after writing.';
  return (
    <section className="action-bar" aria-labelledby="step-backup-go">
      <h2 id="step-backup-go">
        <span className="step-number">3</span> Back up
      </h2>
      <p className={`action-text${blocker ? ' muted' : ''}`}>{blocker ?? ready}</p>
      <button type="submit" form={BACKUP_FORM_ID} className="button primary big" disabled={blocker !== null}>
        Back up
      </button>
    </section>
  );
}
