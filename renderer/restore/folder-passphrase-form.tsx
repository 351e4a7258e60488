import { useRef } from 'react';
import { useApp } from '../store/store-context';

/**
 * The passphrase of an encrypted backup folder, asked before its generations
 * are listed. The field is not a controlled input: its text goes out in the
 * one request that checks it (unlockBackupFolder) and is kept nowhere else;
 * a wrong one empties the field for another try (the message says why).
 */
export function FolderPassphraseForm() {
  const field = useRef<HTMLInputElement>(null);
  const unlocking = useApp((s) => s.restoreFolder.unlocking);
  const unlock = useApp((s) => s.restoreFolderUnlockRequested);
  return (
    <form
      className="path-form"
      aria-label="Unlock the backup folder"
      onSubmit={(e) => {
        e.preventDefault();
        const input = field.current;
        if (!input) return;
        void unlock(input.value).then((opened) => {
          // Still on screen (a wrong passphrase): empty it for the next try.
          if (!opened && field.current) {
            field.current.value = '';
            field.current.focus();
          }
        });
      }}
    >
      <p className="tight" id="folder-encrypted-why">
        This backup folder is encrypted: type its passphrase to list its generations.
      </p>
      <label htmlFor="restore-folder-passphrase">Passphrase</label>
      <div className="path-row">
        <input id="restore-folder-passphrase" ref={field} type="password" autoComplete="current-password" spellCheck={false} aria-describedby="folder-encrypted-why" autoFocus />
        <button type="submit" className="button" disabled={unlocking}>
          Unlock
        </button>
      </div>
    </form>
  );
}
