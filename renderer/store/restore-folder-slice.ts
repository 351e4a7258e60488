import type { BackupFolderInfo } from '../../shared/backup-folder-types';
import { generationRef } from '../../shared/backup-folder-types';
import type { ErrorInfo } from '../../shared/error-codes';
import type { SliceCreator } from './app-store';
import { newestGeneration } from './generation-groups';
import { prunedSelections } from './prune-selections';

/** What a restore reads: one backup file, or a generation of a backup folder. */
export type RestoreSourceKind = 'file' | 'folder';

export interface RestoreFolderState {
  kind: RestoreSourceKind;
  /** What is typed in the "Backup folder" field. */
  folderInput: string;
  /** The folder opened and its generations (null: none opened yet). */
  info: BackupFolderInfo | null;
  /** The folder being read, or null. */
  opening: string | null;
  error: ErrorInfo | null;
  /** The generation picked (its id); the restore's details are that generation's (restore.details, read by inspectBackup). */
  chosen: string | null;
  /**
   * An encrypted folder's unlock handle: main keeps the passphrase under it,
   * and the generation's details and the restore are asked for with it. Null
   * while the folder is locked (or plain). The passphrase is never kept here.
   */
  unlock: string | null;
  /** The passphrase is being checked (scrypt takes a second or two). */
  unlocking: boolean;
}

export interface RestoreFolderSlice {
  restoreFolder: RestoreFolderState;
  restoreSourceKindChosen(kind: RestoreSourceKind): void;
  restoreFolderTyped(text: string): void;
  restoreFolderSubmitted(): Promise<void>;
  restoreFolderChooseRequested(): Promise<void>;
  /** Picks the opened folder's newest readable generation (or says why there is none). */
  restoreNewestChosen(): Promise<void>;
  /** Lists the folder's generations and picks the newest. */
  restoreFolderOpened(path: string): Promise<void>;
  /** A generation picked: its record is read as a backup file's would be (FOLDER#ID), then targets are checked against it. */
  restoreGenerationChosen(id: string): Promise<void>;
  /** The passphrase typed for the encrypted folder opened: sent in this one request; true when it opened the folder. */
  restoreFolderUnlockRequested(passphrase: string): Promise<boolean>;
  /** Main no longer holds the passphrase (the handle expired): the folder is locked again and asks for it. */
  restoreFolderLockedAgain(): void;
}

/** The opened folder is encrypted and its passphrase is wanted before anything of it can be read. */
export function folderLocked(s: RestoreFolderState): boolean {
  return s.info?.encrypted === true && s.unlock === null;
}

const EMPTY: Omit<RestoreFolderState, 'kind'> = { folderInput: '', info: null, opening: null, error: null, chosen: null, unlock: null, unlocking: false };

export const createRestoreFolderSlice: SliceCreator<RestoreFolderSlice> = (set, get, api) => {
  const patch = (p: Partial<RestoreFolderState>) => set((s) => ({ restoreFolder: { ...s.restoreFolder, ...p } }));
  /** Forgets the backup read so far: what is confirmed and written must be what the chosen kind shows. */
  const forgetBackup = () => {
    set((s) => ({ restore: { ...s.restore, details: null, inspecting: null, error: null, pathInput: '' } }));
    set(prunedSelections(get()));
  };
  return {
    restoreFolder: { kind: 'file', ...EMPTY },

    restoreSourceKindChosen: (kind) => {
      if (get().restoreFolder.kind === kind) return;
      set({ restoreFolder: { kind, ...EMPTY } });
      forgetBackup();
    },

    restoreFolderTyped: (text) => patch({ folderInput: text }),

    restoreFolderSubmitted: async () => {
      const path = get().restoreFolder.folderInput.trim();
      if (!path.startsWith('/')) {
        patch({ error: { code: 'E_BAD_ARGUMENTS', message: 'Type the full path of a backup folder, starting with /.' } });
        return;
      }
      await get().restoreFolderOpened(path);
    },

    restoreFolderChooseRequested: async () => {
      if (!get().nativeDialogs) return get().browseOpened('restore-folder', get().restoreFolder.folderInput);
      const result = await api.chooseFolder({ title: 'Choose a backup folder' });
      if (!result.ok) patch({ error: result.error });
      else if (result.value !== null) await get().restoreFolderOpened(result.value);
    },

    restoreFolderOpened: async (path) => {
      patch({ folderInput: path, opening: path, error: null, info: null, chosen: null, unlock: null, unlocking: false });
      forgetBackup();
      const result = await api.inspectBackupFolder({ path });
      if (get().restoreFolder.opening !== path) return;
      if (!result.ok) return patch({ opening: null, error: result.error });
      const info = result.value;
      if (info.state !== 'backup-folder') {
        return patch({ opening: null, error: { code: 'E_NOT_A_BACKUP', message: `${info.path} is not an Imprint backup folder.` } });
      }
      patch({ opening: null, info, folderInput: info.path });
      // An encrypted folder lists its generations once its passphrase is typed (restoreFolderUnlockRequested).
      if (info.encrypted && info.generations.length === 0) return;
      await get().restoreNewestChosen();
    },

    restoreFolderUnlockRequested: async (passphrase) => {
      const info = get().restoreFolder.info;
      if (!info?.encrypted || get().restoreFolder.unlocking) return false;
      if (passphrase === '') {
        patch({ error: { code: 'E_BAD_ARGUMENTS', message: 'Type the passphrase of this backup folder.' } });
        return false;
      }
      patch({ unlocking: true, error: null });
      const result = await api.unlockBackupFolder({ path: info.path, passphrase });
      // Another folder opened meanwhile: this answer is not for it.
      if (get().restoreFolder.info?.path !== info.path) return false;
      if (!result.ok) {
        patch({ unlocking: false, error: result.error });
        return false;
      }
      patch({ unlocking: false, info: result.value.info, unlock: result.value.unlock });
      await get().restoreNewestChosen();
      return true;
    },

    restoreFolderLockedAgain: () => {
      if (get().restoreFolder.unlock !== null) patch({ unlock: null, chosen: null });
    },

    restoreNewestChosen: async () => {
      const info = get().restoreFolder.info;
      if (!info) return;
      const newest = newestGeneration(info.generations);
      if (!newest) {
        patch({ error: { code: 'E_NOT_A_BACKUP', message: info.generations.length === 0 ? `${info.path} holds no generation yet.` : `No generation in ${info.path} can be read.` } });
        return;
      }
      await get().restoreGenerationChosen(newest.id);
    },

    restoreGenerationChosen: async (id) => {
      const info = get().restoreFolder.info;
      const g = info?.generations.find((x) => x.id === id);
      if (!info || !g || g.error) return;
      patch({ chosen: id });
      await get().restoreBackupChosen(generationRef(info.path, id), get().restoreFolder.unlock ?? undefined);
    },
  };
};
