import { useEffect, type ChangeEvent } from 'react';
import { currentFolderCheck, folderPassphraseNeed, type PassphraseFacts } from '../store/backup-folder-slice';
import { useApp } from '../store/store-context';

/** The names the form reads the passphrase fields by when Back up sends them (backup-form.tsx). */
export const PASSPHRASE_FIELD = 'folder-passphrase';
export const PASSPHRASE_AGAIN_FIELD = 'folder-passphrase-again';

/** What the form's passphrase fields hold now, as facts (the text itself stays in the fields). */
function factsOf(form: HTMLFormElement | null): PassphraseFacts {
  const value = (name: string): string | null => {
    const field = form?.elements.namedItem(name);
    return field instanceof HTMLInputElement ? field.value : null;
  };
  const pass = value(PASSPHRASE_FIELD) ?? '';
  const again = value(PASSPHRASE_AGAIN_FIELD);
  return { typed: pass.length > 0, matches: again === null || again === pass };
}

/**
 * Encryption of a backup folder: "Encrypt this backup folder" with the
 * passphrase typed twice for a new (or empty) folder; the passphrase of an
 * encrypted folder backed up into again. The fields are not controlled
 * inputs: the passphrase lives in them until Back up reads it, and the store
 * learns only whether they are filled in and agree.
 */
export function FolderEncryptionFields() {
  const need = useApp(folderPassphraseNeed);
  const offered = useApp((s) => ['new', 'empty'].includes(currentFolderCheck(s)?.state ?? ''));
  const encrypt = useApp((s) => s.backupFolder.encrypt);
  const folder = useApp((s) => s.backupFolder.folderInput.trim());
  const toggled = useApp((s) => s.backupEncryptToggled);
  return (
    <>
      {offered && (
        <label className="check">
          <input type="checkbox" checked={encrypt} onChange={toggled} aria-describedby="encrypt-why" />
          Encrypt this backup folder
        </label>
      )}
      {offered && (
        <p id="encrypt-why" className="muted small tight">
          Its data, and which data two drives share, can be read only with the passphrase (AES-256-GCM).
        </p>
      )}
      {/* Keyed by the folder: another folder starts with empty fields. */}
      {need && <PassphraseFields key={`${need}:${folder}`} confirm={need === 'new'} />}
    </>
  );
}

function PassphraseFields({ confirm }: { confirm: boolean }) {
  const edited = useApp((s) => s.backupPassphraseEdited);
  // The fields start empty: say so, whatever an earlier pair of fields reported.
  useEffect(() => edited({ typed: false, matches: !confirm }), [edited, confirm]);
  const onChange = (e: ChangeEvent<HTMLInputElement>) => edited(factsOf(e.currentTarget.form));
  return (
    <>
      <label htmlFor={PASSPHRASE_FIELD}>{confirm ? 'Passphrase' : 'Passphrase of this backup folder'}</label>
      <input id={PASSPHRASE_FIELD} name={PASSPHRASE_FIELD} type="password" autoComplete={confirm ? 'new-password' : 'current-password'} spellCheck={false} onChange={onChange} />
      {confirm && (
        <>
          <label htmlFor={PASSPHRASE_AGAIN_FIELD}>Passphrase again</label>
          <input id={PASSPHRASE_AGAIN_FIELD} name={PASSPHRASE_AGAIN_FIELD} type="password" autoComplete="new-password" spellCheck={false} onChange={onChange} aria-describedby="passphrase-lost" />
          <p id="passphrase-lost" className="note">
            If this passphrase is lost, nothing in this folder can be restored: no one, Imprint included, can recover it.
          </p>
        </>
      )}
    </>
  );
}
