import type { Drive } from '../../shared/drive';
import type { ImageFacts, Refusal } from '../../shared/drive-constraints';
import { compareDrives, holdsImage, isShownByDefault, refusalsFor, warningsFor } from '../../shared/drive-constraints';
import type { BackupDetails, ImageDetails } from '../../shared/ipc-contract';
import type { JobKind } from '../../shared/job-events';

/** Devices a running job uses, with its kind (jobs-slice.ts `busyDevices`). */
export type BusyDevices = ReadonlyMap<string, JobKind>;

const NOT_BUSY: BusyDevices = new Map();

const JOB_NAME: Partial<Record<JobKind, string>> = { backup: 'backup', rescue: 'rescue', restore: 'restore', flash: 'flash', verify: 'verification', check: 'capacity check', clone: 'clone', format: 'format' };

/** A drive a running job uses cannot be chosen: say which job, and what to do. */
function busyRefusal(drive: Drive, busy: BusyDevices): Refusal[] {
  const kind = busy.get(drive.device);
  if (kind === undefined) return [];
  return [{ code: 'E_TARGET_BUSY', reason: `In use by the ${JOB_NAME[kind] ?? 'job'} that is running: wait for it to finish or cancel it.` }];
}

/**
 * What the drive lists show, derived from the store's raw state with the pure
 * rules of shared/drive-constraints.ts (the same ones the CLI and main apply).
 */
export interface DriveOption {
  drive: Drive;
  /** Why the drive may not be chosen, most serious first; empty when it may. */
  refusals: Refusal[];
  warnings: string[];
  /** Bytes the image or backup needs, when known (to say how much is missing). */
  needed: number | null;
  /** Listed to be written (flash, restore) or read (a backup's source). */
  use: 'write' | 'read';
}

export const NO_IMAGE: ImageFacts = { path: null, size: null };

export function flashImageFacts(image: ImageDetails | null): ImageFacts {
  // gzip's trailer (minSize) is not trusted here: a truncated .gz ends in garbage that
  // would mark every drive too small. The engine confirms it by decoding before refusing
  // a drive when Flash is pressed, still before a byte is written.
  return image ? { path: image.path, size: image.size } : NO_IMAGE;
}

/** A restore needs room for the drive the backup was taken from, whichever size is known. */
export function restoreImageFacts(backup: BackupDetails | null): ImageFacts {
  return backup ? { path: backup.path, size: backup.sourceSize ?? backup.size } : NO_IMAGE;
}

/**
 * The rules' warnings, less the loop-device note: its "loop device" badge
 * says that already, and the note repeated under every loop device.
 */
function screenWarnings(drive: Drive): string[] {
  return warningsFor({ ...drive, virtual: false });
}

/** Drives to list as write targets: all of them with "Show all drives", else those shown by default. */
export function targetOptions(drives: readonly Drive[], image: ImageFacts, showAll: boolean, busy: BusyDevices = NOT_BUSY): DriveOption[] {
  return drives
    .filter((d) => showAll || isShownByDefault(d))
    .slice()
    .sort(compareDrives)
    .map((drive) => ({ drive, refusals: [...busyRefusal(drive, busy), ...refusalsFor(drive, image)], warnings: screenWarnings(drive), needed: image.size, use: 'write' }));
}

/**
 * Drives to list as a backup's source. Reading is harmless, so only a drive
 * with no medium, or one that holds the destination file, is refused.
 */
export function sourceOptions(drives: readonly Drive[], outputPath: string, showAll: boolean, busy: BusyDevices = NOT_BUSY): DriveOption[] {
  const output: ImageFacts = { path: outputPath.trim() || null, size: null };
  return drives
    .filter((d) => showAll || isShownByDefault(d))
    .slice()
    .sort(compareDrives)
    .map((drive) => {
      const refusals: Refusal[] = busyRefusal(drive, busy);
      if (drive.size <= 0) refusals.push({ code: 'E_SOURCE_EMPTY', reason: `${drive.device} reports a size of 0: no medium inserted?` });
      if (output.path && !output.path.startsWith('/dev/') && holdsImage(drive, output)) {
        refusals.push({ code: 'E_TARGET_HOLDS_SOURCE', reason: `${drive.device} holds the backup destination: choose a destination on another drive` });
      }
      const warnings = drive.mountpoints.length > 0 ? [`${drive.device} has mounted partitions: the backup may be inconsistent unless they are unmounted.`] : [];
      return { drive, refusals, warnings, needed: null, use: 'read' };
    });
}

/** The chosen devices that are still listed and still allowed; order kept. */
export function stillValid(selected: readonly string[], options: readonly DriveOption[]): string[] {
  return selected.filter((device) => options.some((o) => o.drive.device === device && o.refusals.length === 0));
}

/** How many drives "Show all drives" would add. */
export function hiddenCount(drives: readonly Drive[]): number {
  return drives.filter((d) => !isShownByDefault(d)).length;
}
