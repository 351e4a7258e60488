import type { BackupRequest } from '../../shared/ipc-contract';
import type { AppState, SliceCreator } from './app-store';
import { sourceOptions, stillValid } from './drive-options';
import { IDLE_JOB, failedToStart, startingJob, type JobView } from './job-view';
import { setJob } from './jobs-slice';
import { prunedSelections } from './prune-selections';

export type Compression = BackupRequest['compression'];

export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'xz', 'none'];

const EXTENSION: Record<Compression, string> = { zstd: '.img.zst', gzip: '.img.gz', xz: '.img.xz', none: '.img' };

export interface BackupState {
  /** Device path of the drive to back up. */
  source: string | null;
  /** What is typed in the "Backup path" field. */
  pathInput: string;
  compression: Compression;
  /** Replace an existing file at the path. */
  overwrite: boolean;
  /** A message about the last "Show in folder" (browser mode cannot). */
  notice: string | null;
  job: JobView;
}

export interface BackupSlice {
  backup: BackupState;
  backupSourceChosen(device: string): void;
  backupPathTyped(text: string): void;
  backupPathChooseRequested(): Promise<void>;
  compressionChosen(compression: Compression): void;
  overwriteToggled(): void;
  backupRequested(): Promise<void>;
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

/** Why the backup cannot start yet, or null when it can. */
export function backupBlocker(s: AppState): string | null {
  if (!s.backup.source) return 'Choose a drive to back up.';
  if (!s.backup.pathInput.trim()) return 'Choose where to save the backup.';
  if (stillValid([s.backup.source], sourceOptions(s.drives.list, s.backup.pathInput, s.drives.showAll)).length === 0) {
    return 'That drive cannot be backed up to this path.';
  }
  return null;
}

export const createBackupSlice: SliceCreator<BackupSlice> = (set, get, api) => {
  const patch = (p: Partial<BackupState>) => set((s) => ({ backup: { ...s.backup, ...p } }));
  /** Starts the backup as chosen; `rescue`: fall back to rescue mode on unreadable sectors. */
  const start = async (rescue: boolean): Promise<void> => {
    const s = get();
    if (s.backup.job.status === 'starting' || s.backup.job.status === 'running') return;
    const blocker = backupBlocker(s);
    if (blocker) {
      setJob(set, 'backup', () => failedToStart({ code: 'E_BAD_ARGUMENTS', message: blocker }));
      return;
    }
    const { source, pathInput, compression, overwrite } = s.backup;
    patch({ job: startingJob(), notice: null });
    const result = await api.startBackup({ device: source as string, output: pathInput.trim(), compression, force: overwrite, ...(rescue ? { rescue: true } : {}) });
    if (result.ok) get().jobStarted('backup', result.value.jobId);
    else setJob(set, 'backup', () => failedToStart(result.error));
  };
  return {
    backup: { source: null, pathInput: '', compression: 'zstd', overwrite: false, notice: null, job: IDLE_JOB },

    backupSourceChosen: (device) => {
      const s = get();
      if (stillValid([device], sourceOptions(s.drives.list, s.backup.pathInput, s.drives.showAll)).length === 0) return;
      patch({ source: device });
    },

    backupPathTyped: (text) => {
      patch({ pathInput: text });
      set(prunedSelections(get()));
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
    },

    overwriteToggled: () => patch({ overwrite: !get().backup.overwrite }),

    backupRequested: async () => start(false),

    rescueRequested: async () => {
      if (!rescueOffered(get().backup.job)) return;
      await start(true);
    },

    newBackupRequested: () => {
      const status = get().backup.job.status;
      if (status === 'starting' || status === 'running') return;
      patch({ job: IDLE_JOB, notice: null });
    },

    revealRequested: async (path) => {
      const result = await api.revealFile({ path });
      patch({ notice: result.ok ? null : result.error.message });
    },
  };
};
