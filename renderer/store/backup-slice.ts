import type { StorageSummary } from '../../shared/backup-metadata';
import type { BackupOutputCheck, BackupRequest } from '../../shared/ipc-contract';
import type { AppState, SliceCreator } from './app-store';
import { sourceOptions, stillValid } from './drive-options';
import { IDLE_JOB, failedToStart, startingJob, type JobView } from './job-view';
import { busyDevices, setJob } from './jobs-slice';
import { prunedSelections } from './prune-selections';
import { folderBackupBlocker, folderPassphraseNeed } from './backup-folder-slice';
import { backupDestinationPath } from './backup-target-path';

export type Compression = BackupRequest['compression'];

export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'xz', 'none'];

const EXTENSION: Record<Compression, string> = { zstd: '.img.zst', gzip: '.img.gz', xz: '.img.xz', none: '.img' };

export interface BackupState {
  /** Device path of the drive to back up. */
  source: string | null;
  /** What is typed in the "Backup path" field. */
  pathInput: string;
  compression: Compression;
  /** "Replace the existing file" is ticked (offered only when one is there). */
  overwrite: boolean;
  /** What is at the typed path, as the service last said, and for which path (null: not checked yet). */
  outputCheck: { path: string; result: BackupOutputCheck } | null;
  /** A message about the last "Show in folder" (browser mode cannot). */
  notice: string | null;
  /** "Every sector" was chosen instead of the default smart backup (only what the filesystems use). */
  sectorBySector: boolean;
  /** What the backup would store, per partition, for the chosen drive and mode (null: no drive chosen). */
  plan: BackupPlan | null;
  job: JobView;
}

/** The service's answer to planBackup, and for which drive and mode it was asked. */
export interface BackupPlan {
  device: string;
  sectorBySector: boolean;
  /** `needs-admin`: the service cannot read the drive's filesystems without administrator rights. */
  status: 'loading' | 'ready' | 'needs-admin' | 'failed';
  summary: StorageSummary | null;
  error: string | null;
}

export interface BackupSlice {
  backup: BackupState;
  backupSourceChosen(device: string): void;
  backupPathTyped(text: string): void;
  backupPathChooseRequested(): Promise<void>;
  compressionChosen(compression: Compression): void;
  /** Smart (false, the default) or every sector (true); asks for the plan again. */
  backupModeChosen(sectorBySector: boolean): void;
  /** Asks the service what a backup of the chosen drive would store (planBackup). */
  backupPlanRequested(): Promise<void>;
  overwriteToggled(): void;
  /** Asks the service what is at the typed path now (after typing, a new compression, a finished backup). */
  backupOutputChecked(): Promise<void>;
  /** Back up; `passphrase`: what the folder's passphrase field holds, read by the form when it is sent (never kept in the store). */
  backupRequested(passphrase?: string): Promise<void>;
  /** The backup failed on unreadable sectors and the user asked to save what can be read (`startBackup` with `rescue`). */
  rescueRequested(): Promise<void>;
  newBackupRequested(): void;
  revealRequested(path: string): Promise<void>;
}

/** The path with its image extension matching the compression, when it has one of ours. */
export function withExtension(path: string, compression: Compression): string {
  const known = Object.values(EXTENSION).sort((a, b) => b.length - a.length).find((ext) => path.endsWith(ext));
  return known ? path.slice(0, -known.length) + EXTENSION[compression] : path;
}

/** A file name to suggest in the save dialog: the drive's name and today's date. */
export function suggestedName(device: string | null, compression: Compression, today: Date = new Date()): string {
  const base = (device ?? 'drive').split('/').pop() || 'drive';
  return `${base}-${today.toISOString().slice(0, 10)}${EXTENSION[compression]}`;
}

/**
 * Whether the finished backup failed on the drive's unreadable sectors, so
 * rescue mode can save what can be read. Not after a rescue itself: its
 * E_BAD_SECTOR says what was lost, and its result shows where.
 */
export function rescueOffered(job: JobView): boolean {
  return job.status === 'finished' && job.error?.code === 'E_BAD_SECTOR' && job.kind === 'backup' && job.result?.details?.kind !== 'rescue';
}

/** What the service said about the path now typed; null until it has answered for this very path. */
export function currentOutputCheck(s: AppState): BackupOutputCheck | null {
  const c = s.backup.outputCheck;
  return c && c.path === s.backup.pathInput.trim() ? c.result : null;
}

/** Why the backup cannot start yet, or null when it can. */
export function backupBlocker(s: AppState): string | null {
  if (!s.backup.source) return 'Choose a drive to back up.';
  if (s.backupFolder.destination === 'folder') {
    const folderBlocker = folderBackupBlocker(s);
    if (folderBlocker) return folderBlocker;
    if (stillValid([s.backup.source], sourceOptions(s.drives.list, s.backupFolder.folderInput, s.drives.showAll, busyDevices(s))).length === 0) return 'That drive cannot be backed up into this folder.';
    return null;
  }
  const path = s.backup.pathInput.trim();
  if (!path) return 'Choose where to save the backup.';
  if (!path.startsWith('/')) return 'Type the full path of the backup file, starting with /.';
  const check = currentOutputCheck(s);
  const folder = path.slice(0, path.lastIndexOf('/')) || '/';
  if (check && !check.folderExists) return `The folder ${folder} does not exist: create it first, or choose another folder.`;
  if (check?.notAFile) return `${path} is a folder, not a file name: add a name such as backup${EXTENSION[s.backup.compression]}.`;
  if (check?.exists && !s.backup.overwrite) return 'A file with this name is already there: tick "Replace the existing file", or choose another name.';
  if (stillValid([s.backup.source], sourceOptions(s.drives.list, s.backup.pathInput, s.drives.showAll, busyDevices(s))).length === 0) {
    return 'That drive cannot be backed up to this path.';
  }
  return null;
}

export const createBackupSlice: SliceCreator<BackupSlice> = (set, get, api) => {
  const patch = (p: Partial<BackupState>) => set((s) => ({ backup: { ...s.backup, ...p } }));
  /** Starts the backup as chosen; `rescue`: fall back to rescue mode on unreadable sectors. */
  const start = async (rescue: boolean, passphrase?: string): Promise<void> => {
    const s = get();
    if (s.backup.job.status === 'starting' || s.backup.job.status === 'running') return;
    const blocker = backupBlocker(s);
    if (blocker) {
      setJob(set, 'backup', () => failedToStart({ code: 'E_BAD_ARGUMENTS', message: blocker }));
      return;
    }
    const { source, pathInput, compression, overwrite, sectorBySector } = s.backup;
    // Replacing is allowed only for a file the form said was there (and the box ticked for it).
    const force = overwrite && currentOutputCheck(s)?.exists === true;
    patch({ job: startingJob(), notice: null });
    if (s.backupFolder.destination === 'folder') {
      // The passphrase goes in this request only, and only to a folder that needs one.
      const need = folderPassphraseNeed(s);
      const secret = need && passphrase ? { passphrase, ...(need === 'new' ? { encrypt: true } : {}) } : {};
      const folder = await api.startFolderBackup({ device: source as string, folder: s.backupFolder.folderInput.trim(), ...secret });
      if (folder.ok) get().jobStarted('backup', folder.value.jobId);
      else setJob(set, 'backup', () => failedToStart(folder.error));
      return;
    }
    const result = await api.startBackup({ device: source as string, output: pathInput.trim(), compression, force, sectorBySector, ...(rescue ? { rescue: true } : {}) });
    if (result.ok) get().jobStarted('backup', result.value.jobId);
    else setJob(set, 'backup', () => failedToStart(result.error));
  };
  return {
    backup: { source: null, pathInput: '', compression: 'zstd', overwrite: false, outputCheck: null, notice: null, sectorBySector: false, plan: null, job: IDLE_JOB },

    backupSourceChosen: (device) => {
      const s = get();
      if (stillValid([device], sourceOptions(s.drives.list, backupDestinationPath(s), s.drives.showAll, busyDevices(s))).length === 0) return;
      patch({ source: device });
      void get().layoutRequested(device);
      void get().backupPlanRequested();
    },

    backupModeChosen: (sectorBySector) => {
      if (get().backup.sectorBySector === sectorBySector) return;
      patch({ sectorBySector });
      void get().backupPlanRequested();
    },

    backupPlanRequested: async () => {
      const { source: device, sectorBySector, plan } = get().backup;
      if (!device) return;
      // The last answer stays on screen while the next is read (same drive), so the table does not flicker.
      const before = plan?.device === device ? plan.summary : null;
      patch({ plan: { device, sectorBySector, status: 'loading', summary: before, error: null } });
      const result = await api.planBackup({ device, sectorBySector });
      const now = get().backup;
      // An answer for a drive or mode no longer chosen is dropped (answers may arrive out of order).
      if (now.source !== device || now.sectorBySector !== sectorBySector) return;
      if (!result.ok) patch({ plan: { device, sectorBySector, status: 'failed', summary: null, error: result.error.message } });
      else if (result.value === null) patch({ plan: { device, sectorBySector, status: 'needs-admin', summary: null, error: null } });
      else patch({ plan: { device, sectorBySector, status: 'ready', summary: result.value, error: null } });
    },

    backupPathTyped: (text) => {
      patch({ pathInput: text, overwrite: false });
      set(prunedSelections(get()));
      void get().backupOutputChecked();
    },

    backupOutputChecked: async () => {
      const path = get().backup.pathInput.trim();
      if (!path.startsWith('/')) return;
      const result = await api.checkBackupOutput({ path });
      // An answer for a path no longer typed is dropped (answers may arrive out of order).
      if (result.ok && get().backup.pathInput.trim() === path) patch({ outputCheck: { path, result: result.value } });
    },

    backupPathChooseRequested: async () => {
      const { source, compression } = get().backup;
      const result = await api.chooseBackupPath({ suggestedName: suggestedName(source, compression) });
      if (!result.ok) patch({ notice: result.error.message });
      else if (result.value !== null) get().backupPathTyped(result.value);
    },

    compressionChosen: (compression) => {
      const pathInput = withExtension(get().backup.pathInput, compression);
      patch({ compression, pathInput });
      void get().backupOutputChecked();
    },

    overwriteToggled: () => patch({ overwrite: !get().backup.overwrite }),

    backupRequested: async (passphrase) => start(false, passphrase),

    rescueRequested: async () => {
      if (!rescueOffered(get().backup.job)) return;
      await start(true);
    },

    newBackupRequested: () => {
      const status = get().backup.job.status;
      if (status === 'starting' || status === 'running') return;
      patch({ job: IDLE_JOB, notice: null, overwrite: false });
      // The backup just made is at that path now (or the folder holds one more generation).
      void get().backupOutputChecked();
      void get().backupFolderChecked();
    },

    revealRequested: async (path) => {
      const result = await api.revealFile({ path });
      patch({ notice: result.ok ? null : result.error.message });
    },
  };
};
