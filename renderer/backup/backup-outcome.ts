import { detailsOf, type JobFinishedEvent } from '../../shared/job-events';

/** What a finished backup produced, read from job-finished (details and digests). */
export interface BackupOutcome {
  file: string | null;
  fileSize: number | null;
  ratio: number | null;
  sha256: string | null;
}

/** The backup's facts from the event: its details are a backup's (typed in shared/job-events.ts), or absent when it failed. */
export function backupOutcome(result: JobFinishedEvent, requestedPath: string): BackupOutcome {
  const d = detailsOf(result, 'backup');
  const file = d?.output ?? (result.ok ? requestedPath : null);
  const fileSize = d?.outputBytes ?? null;
  const ratio = d?.compressionRatio ?? (fileSize !== null && result.bytes > 0 ? fileSize / result.bytes : null);
  const sha256 = result.digests?.sha256 ?? d?.sha256 ?? null;
  return { file, fileSize, ratio, sha256 };
}

/** How many bad areas the rescue result lists; the mapfile beside the image has them all. */
export const BAD_AREAS_SHOWN = 5;

/** What a rescue (a backup of a drive with unreadable sectors) saved and lost, from job-finished's details. */
export interface RescueOutcome {
  file: string | null;
  mapfile: string | null;
  rescuedBytes: number;
  lostBytes: number;
  /** The first BAD_AREAS_SHOWN bad areas, in order. */
  badAreas: { offset: number; length: number }[];
  badAreaCount: number;
}

/** The rescue's figures, or null when the job was no rescue. */
export function rescueOutcome(result: JobFinishedEvent): RescueOutcome | null {
  const d = detailsOf(result, 'rescue');
  if (!d) return null;
  return {
    file: d.output.length > 0 ? d.output : null,
    mapfile: d.mapfile.length > 0 ? d.mapfile : null,
    rescuedBytes: d.rescuedBytes,
    lostBytes: d.lostBytes,
    badAreas: d.badAreas.slice(0, BAD_AREAS_SHOWN),
    badAreaCount: d.badAreaCount,
  };
}
