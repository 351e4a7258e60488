import type { JobEvent } from '../../shared/job-events';
import type { Output } from './output';

/** A write target as planned: where its drive is mounted, if anywhere. */
interface PlannedTarget {
  path: string;
  drive: { mountpoints: string[] } | null;
}

/** For the list of drives about to be erased: where each is mounted, since that will be unmounted first. */
export function mountedNotes(target: PlannedTarget): string[] {
  const mps = target.drive?.mountpoints ?? [];
  return mps.length > 0 ? [`  note: ${target.path} is mounted at ${mps.join(', ')}: it will be unmounted first`] : [];
}

/**
 * Wraps a write job's event sink so the person hears what was unmounted:
 * the job unmounts its targets before it starts writing, so once it reports
 * a phase past "preparing", the unmounting succeeded (a mount that will not
 * go fails the job before that, with its own message).
 */
export function reportingUnmounts(out: Output, targets: readonly PlannedTarget[], sink: (e: JobEvent) => void): (e: JobEvent) => void {
  let told = false;
  return (e) => {
    if (!told && e.type === 'progress' && e.phase !== 'preparing') {
      told = true;
      for (const t of targets) {
        for (const mp of t.drive?.mountpoints ?? []) out.info(`Unmounted ${mp} (${t.path}) before writing.`);
      }
    }
    sink(e);
  };
}
