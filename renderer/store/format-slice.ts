import type { ImageFacts } from '../../shared/drive-constraints';
import { chooseFilesystem, DEFAULT_FORMAT_LABEL, FORMAT_MIN_DRIVE_BYTES, labelProblem, type FormatFilesystem } from '../../shared/format-rules';
import type { AppState, SliceCreator } from './app-store';
import { stillValid, targetOptions } from './drive-options';
import { IDLE_JOB, failedToStart, startingJob, type JobView } from './job-view';
import { busyDevices, setJob } from './jobs-slice';

/** "Automatic" (FAT32 up to 32 GB, exFAT above: format-rules.ts) or the filesystem the person picked. */
export type FormatChoice = 'auto' | FormatFilesystem;

export interface FormatState {
  /** The one drive to format (a radio choice: formatting is one drive at a time, as in the CLI). */
  selected: string | null;
  filesystem: FormatChoice;
  /** What is typed in the "Label" field. */
  label: string;
  confirming: boolean;
  job: JobView;
}

export interface FormatSlice {
  format: FormatState;
  formatDriveChosen(device: string): void;
  formatFilesystemChosen(choice: FormatChoice): void;
  formatLabelTyped(text: string): void;
  /** "Format" pressed: confirmation when a drive is chosen and the label is fine. */
  formatRequested(): void;
  formatConfirmDismissed(): void;
  formatConfirmed(): Promise<void>;
  /** "Format another" after a result: back to the form, the drive choice kept. */
  newFormatRequested(): void;
}

/**
 * What a format asks of a drive, as drive-constraints.ts's rules take it: no
 * image to hold, and room for a filesystem (format-job.ts refuses below this too).
 */
export const FORMAT_FACTS: ImageFacts = { path: null, size: FORMAT_MIN_DRIVE_BYTES };

/** The drive a format would erase now: chosen and still allowed (listed, not busy, not refused). */
export function formatTargetNow(s: AppState): string | null {
  const chosen = s.format.selected;
  if (chosen === null) return null;
  return stillValid([chosen], targetOptions(s.drives.list, FORMAT_FACTS, s.drives.showAll, busyDevices(s)))[0] ?? null;
}

/** The filesystem the format will make: the person's choice, else by the chosen drive's size; null while that is unknown. */
export function formatFilesystemNow(s: AppState): FormatFilesystem | null {
  if (s.format.filesystem !== 'auto') return s.format.filesystem;
  const drive = s.drives.list.find((d) => d.device === s.format.selected);
  return drive ? chooseFilesystem(drive.size) : null;
}

/**
 * Why the typed label cannot be used, checked as the CLI and the engine check
 * it (format-rules.ts), or null. With "Automatic" and no drive yet, the
 * stricter FAT32 rules apply: the label then fits whichever is made.
 */
export function formatLabelProblem(s: AppState): string | null {
  const problem = labelProblem(s.format.label, formatFilesystemNow(s) ?? 'fat32');
  return problem && problem.charAt(0).toUpperCase() + problem.slice(1) + '.';
}

export const createFormatSlice: SliceCreator<FormatSlice> = (set, get, api) => {
  const patch = (p: Partial<FormatState>) => set((s) => ({ format: { ...s.format, ...p } }));
  const busy = () => ['starting', 'running'].includes(get().format.job.status);
  return {
    format: { selected: null, filesystem: 'auto', label: DEFAULT_FORMAT_LABEL, confirming: false, job: IDLE_JOB },

    formatDriveChosen: (device) => {
      const s = get();
      if (busy()) return;
      if (stillValid([device], targetOptions(s.drives.list, FORMAT_FACTS, s.drives.showAll, busyDevices(s))).length === 1) patch({ selected: device });
    },

    formatFilesystemChosen: (choice) => patch({ filesystem: choice }),

    formatLabelTyped: (text) => patch({ label: text }),

    formatRequested: () => {
      const s = get();
      if (busy() || formatTargetNow(s) === null || formatLabelProblem(s) !== null) return;
      patch({ confirming: true });
    },

    formatConfirmDismissed: () => patch({ confirming: false }),

    formatConfirmed: async () => {
      const s = get();
      const drive = formatTargetNow(s);
      const problem = formatLabelProblem(s);
      patch({ confirming: false, job: startingJob() });
      if (drive === null || problem !== null) {
        setJob(set, 'format', () => failedToStart({ code: 'E_BAD_ARGUMENTS', message: problem ?? 'Choose a drive first.' }));
        return;
      }
      const filesystem = s.format.filesystem === 'auto' ? {} : { filesystem: s.format.filesystem };
      const result = await api.startFormat({ drive, label: s.format.label, ...filesystem });
      if (result.ok) get().jobStarted('format', result.value.jobId);
      else setJob(set, 'format', () => failedToStart(result.error));
    },

    newFormatRequested: () => {
      if (!busy()) patch({ confirming: false, job: IDLE_JOB });
    },
  };
};
