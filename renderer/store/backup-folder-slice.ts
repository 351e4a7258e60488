import type { BackupFolderInfo } from '../../shared/backup-folder-types';
import type { AppState, SliceCreator } from './app-store';
import { prunedSelections } from './prune-selections';

/** Where a backup goes: one standalone file, or a backup folder that keeps every generation and stores only changes. */
export type BackupDestination = 'file' | 'folder';

export interface BackupFolderState {
  destination: BackupDestination;
  /** What is typed in the "Backup folder" field. */
  folderInput: string;
  /** What is at the typed folder, as the service last said, and for which path (null: not checked yet). */
  check: { path: string; result: BackupFolderInfo } | null;
  /** A message about the last folder dialog (an error from it). */
  notice: string | null;
  /** "Encrypt this backup folder" is ticked (it applies to a new or empty folder only). */
  encrypt: boolean;
  /**
   * What the passphrase fields hold, as facts only: the passphrase itself
   * stays in the form's fields until Back up sends it (backupRequested), and
   * is never kept in the store.
   */
  passphrase: PassphraseFacts;
}

export interface PassphraseFacts {
  /** The passphrase field is not empty. */
  typed: boolean;
  /** Its confirmation holds the same text (asked only for a new encrypted folder). */
  matches: boolean;
}

export interface BackupFolderSlice {
  backupFolder: BackupFolderState;
  backupDestinationChosen(destination: BackupDestination): void;
  backupFolderTyped(text: string): void;
  /** Asks the service what is at the typed folder (after typing, after a finished backup). */
  backupFolderChecked(): Promise<void>;
  /** The system's folder dialog (Electron) or browser mode's file browser, in folder mode. */
  backupFolderChooseRequested(): Promise<void>;
  backupEncryptToggled(): void;
  backupPassphraseEdited(facts: PassphraseFacts): void;
}

/**
 * Which passphrase a backup into the typed folder needs: `new` when a new
 * (or empty) folder is to be made encrypted (typed twice), `existing` for an
 * encrypted backup folder (its own), null for none.
 */
export function folderPassphraseNeed(s: AppState): 'new' | 'existing' | null {
  const check = currentFolderCheck(s);
  if (check?.state === 'backup-folder') return check.encrypted ? 'existing' : null;
  return s.backupFolder.encrypt && (check?.state === 'new' || check?.state === 'empty') ? 'new' : null;
}

/** What the service said about the folder now typed; null until it has answered for this very path. */
export function currentFolderCheck(s: AppState): BackupFolderInfo | null {
  const c = s.backupFolder.check;
  return c && c.path === s.backupFolder.folderInput.trim() ? c.result : null;
}

/** Why a backup into the typed folder cannot start, or null (the drive is checked by backupBlocker). */
export function folderBackupBlocker(s: AppState): string | null {
  const folder = s.backupFolder.folderInput.trim();
  if (!folder) return 'Choose or type the backup folder (a new folder is created).';
  if (!folder.startsWith('/')) return 'Type the full path of the backup folder, starting with /.';
  const check = currentFolderCheck(s);
  const parent = folder.slice(0, folder.lastIndexOf('/')) || '/';
  if (check?.state === 'no-parent') return `The folder ${parent} does not exist: create it first, or choose another place.`;
  if (check?.state === 'not-a-folder') return `${folder} is a file, not a folder: choose a new or empty folder, or a backup folder.`;
  if (check?.state === 'foreign') return `${folder} holds other files: choose a new or empty folder (backups never mix with other files).`;
  const need = folderPassphraseNeed(s);
  const { typed, matches } = s.backupFolder.passphrase;
  if (need === 'new' && !typed) return 'Type a passphrase for the encrypted folder, twice.';
  if (need === 'new' && !matches) return 'The two passphrases differ: type the same one in both fields.';
  if (need === 'existing' && !typed) return 'This backup folder is encrypted: type its passphrase.';
  return null;
}

/** What a backup into the typed folder will do, in one line (null until the service has answered). */
export function folderBackupEffect(s: AppState): string | null {
  const check = currentFolderCheck(s);
  if (!check) return null;
  switch (check.state) {
    case 'new':
      return 'A new backup folder is created here; the first backup stores everything the filesystems use.';
    case 'empty':
      return 'This empty folder becomes a backup folder; the first backup stores everything the filesystems use.';
    case 'backup-folder': {
      // An encrypted folder lists nothing until its passphrase opens it (which a backup does, not this check).
      if (check.encrypted) return 'An encrypted backup folder: this backup adds a generation and stores only data the folder does not hold yet.';
      const n = check.generations.length;
      return `A backup folder with ${n} generation${n === 1 ? '' : 's'}: this backup adds generation ${n + 1} and stores only data the folder does not hold yet.`;
    }
    default:
      return null;
  }
}

const NO_PASSPHRASE: PassphraseFacts = { typed: false, matches: false };

export const createBackupFolderSlice: SliceCreator<BackupFolderSlice> = (set, get, api) => {
  const patch = (p: Partial<BackupFolderState>) => set((s) => ({ backupFolder: { ...s.backupFolder, ...p } }));
  return {
    backupFolder: { destination: 'file', folderInput: '', check: null, notice: null, encrypt: false, passphrase: NO_PASSPHRASE },

    backupDestinationChosen: (destination) => {
      if (get().backupFolder.destination === destination) return;
      patch({ destination, notice: null });
      set(prunedSelections(get()));
      if (destination === 'folder') {
        // A backup folder always stores what the filesystems use (its pieces are cut from the smart plan): show that plan.
        get().backupModeChosen(false);
        void get().backupFolderChecked();
      }
    },

    backupFolderTyped: (text) => {
      // The passphrase fields start over for another folder (they are keyed by it).
      patch({ folderInput: text, passphrase: NO_PASSPHRASE });
      // A drive that holds the folder cannot be its source.
      set(prunedSelections(get()));
      void get().backupFolderChecked();
    },

    backupFolderChecked: async () => {
      const path = get().backupFolder.folderInput.trim();
      if (!path.startsWith('/')) return;
      const result = await api.inspectBackupFolder({ path });
      // An answer for a path no longer typed is dropped (answers may arrive out of order).
      if (result.ok && get().backupFolder.folderInput.trim() === path) patch({ check: { path, result: result.value } });
    },

    backupFolderChooseRequested: async () => {
      // Opens at the typed folder's parent: where a new one would be made, and where an existing one is listed.
      if (!get().nativeDialogs) return get().browseOpened('backup-folder', get().backupFolder.folderInput);
      const result = await api.chooseFolder({ title: 'Choose or create a backup folder' });
      if (!result.ok) patch({ notice: result.error.message });
      else if (result.value !== null) get().backupFolderTyped(result.value);
    },

    backupEncryptToggled: () => patch({ encrypt: !get().backupFolder.encrypt, passphrase: NO_PASSPHRASE }),

    backupPassphraseEdited: (facts) => patch({ passphrase: { typed: facts.typed, matches: facts.matches } }),
  };
};
