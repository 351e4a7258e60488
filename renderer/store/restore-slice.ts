import type { ErrorInfo } from '../../shared/error-codes';
import type { BackupDetails } from '../../shared/ipc-contract';
import type { AppState, SliceCreator } from './app-store';
import { restoreImageFacts, stillValid, targetOptions } from './drive-options';
import { IDLE_JOB, failedToStart, startingJob, type JobView } from './job-view';
import { busyDevices, setJob } from './jobs-slice';
import { prunedSelections } from './prune-selections';

export interface RestoreState {
  /** What is typed in the "Backup path" field. */
  pathInput: string;
  /** What the backup says about itself; shown before anything is erased. */
  details: BackupDetails | null;
  inspecting: string | null;
  error: ErrorInfo | null;
  selected: string[];
  confirming: boolean;
  /** "Wipe free space" is ticked: zero what a smart backup did not store (offered for smart backups only). */
  wipeFreeSpace: boolean;
  job: JobView;
}

export interface RestoreSlice {
  restore: RestoreState;
  restorePathTyped(text: string): void;
  restorePathSubmitted(): Promise<void>;
  restoreChooseRequested(): Promise<void>;
  /** `unlock`: the handle of the encrypted folder `path` is a generation of. */
  restoreBackupChosen(path: string, unlock?: string): Promise<void>;
  restoreInspected(details: BackupDetails): void;
  restoreInspectFailed(error: ErrorInfo): void;
  restoreTargetToggled(device: string): void;
  restoreRequested(): void;
  restoreConfirmDismissed(): void;
  wipeFreeSpaceToggled(): void;
  restoreConfirmed(): Promise<void>;
  newRestoreRequested(): void;
}

/** Whether the open backup is a smart one, which writes only what it stored (so free space can be wiped). */
export function isSmartBackup(details: BackupDetails | null): boolean {
  return details?.storage?.mode === 'used-blocks';
}

/** The devices a restore would write now: chosen and still allowed. */
export function restoreTargetsNow(s: AppState): string[] {
  return stillValid(s.restore.selected, targetOptions(s.drives.list, restoreImageFacts(s.restore.details), s.drives.showAll, busyDevices(s)));
}

export const createRestoreSlice: SliceCreator<RestoreSlice> = (set, get, api) => {
  const patch = (p: Partial<RestoreState>) => set((s) => ({ restore: { ...s.restore, ...p } }));
  const busy = () => ['starting', 'running'].includes(get().restore.job.status);
  return {
    restore: { pathInput: '', details: null, inspecting: null, error: null, selected: [], confirming: false, wipeFreeSpace: false, job: IDLE_JOB },

    restorePathTyped: (text) => patch({ pathInput: text }),

    restorePathSubmitted: async () => {
      const path = get().restore.pathInput.trim();
      if (!path) {
        patch({ error: { code: 'E_BAD_ARGUMENTS', message: 'Type the path of a backup file first.' } });
        return;
      }
      await get().restoreBackupChosen(path);
    },

    restoreChooseRequested: async () => {
      if (!get().nativeDialogs) return get().browseOpened('backup', get().restore.pathInput);
      const result = await api.chooseImage({});
      if (!result.ok) patch({ error: result.error });
      else if (result.value !== null) await get().restoreBackupChosen(result.value);
    },

    restoreBackupChosen: async (path, unlock) => {
      patch({ pathInput: path, inspecting: path, error: null });
      const result = await api.inspectBackup({ path, ...(unlock ? { unlock } : {}) });
      if (get().restore.inspecting !== path) return;
      if (result.ok) get().restoreInspected(result.value);
      else get().restoreInspectFailed(result.error);
      if (!result.ok && result.error.code === 'E_PASSPHRASE_NEEDED') get().restoreFolderLockedAgain();
    },

    restoreInspected: (details) => {
      patch({ details, inspecting: null, error: null, pathInput: details.path });
      set(prunedSelections(get()));
    },

    restoreInspectFailed: (error) => {
      patch({ details: null, inspecting: null, error });
      set(prunedSelections(get()));
    },

    restoreTargetToggled: (device) => {
      const s = get();
      const selected = s.restore.selected;
      if (selected.includes(device)) {
        patch({ selected: selected.filter((d) => d !== device) });
        return;
      }
      const options = targetOptions(s.drives.list, restoreImageFacts(s.restore.details), s.drives.showAll, busyDevices(s));
      if (stillValid([device], options).length === 1) {
        patch({ selected: [...selected, device] });
        void get().layoutRequested(device);
      }
    },

    restoreRequested: () => {
      const s = get();
      if (!s.restore.details || restoreTargetsNow(s).length === 0 || busy()) return;
      patch({ confirming: true });
    },

    restoreConfirmDismissed: () => patch({ confirming: false }),

    wipeFreeSpaceToggled: () => patch({ wipeFreeSpace: !get().restore.wipeFreeSpace }),

    restoreConfirmed: async () => {
      const s = get();
      const details = s.restore.details;
      const targets = restoreTargetsNow(s);
      patch({ confirming: false, job: startingJob() });
      if (!details || targets.length === 0) {
        setJob(set, 'restore', () => failedToStart({ code: 'E_BAD_ARGUMENTS', message: 'Choose a backup and at least one drive first.' }));
        return;
      }
      // Wiping is asked only of a smart backup, where it means something; a box ticked for an earlier backup is not carried over.
      const wipe = isSmartBackup(details) && s.restore.wipeFreeSpace ? { wipeFreeSpace: true } : {};
      // A generation of an encrypted folder: the handle main keeps its passphrase under.
      const unlock = s.restoreFolder.kind === 'folder' && details.format === 'backup-folder' && s.restoreFolder.unlock ? { unlock: s.restoreFolder.unlock } : {};
      const result = await api.startRestore({ backup: details.path, targets, verify: true, ...wipe, ...unlock });
      if (result.ok) get().jobStarted('restore', result.value.jobId);
      else setJob(set, 'restore', () => failedToStart(result.error));
      if (!result.ok && result.error.code === 'E_PASSPHRASE_NEEDED') get().restoreFolderLockedAgain();
    },

    newRestoreRequested: () => {
      if (!busy()) patch({ confirming: false, job: IDLE_JOB });
    },
  };
};
