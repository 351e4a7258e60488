import type { JobFinishedEvent } from '../../shared/job-events';

/** What a finished backup produced, read from job-finished (details and digests). */
export interface BackupOutcome {
  file: string | null;
  fileSize: number | null;
  ratio: number | null;
  sha256: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** Reads the backup's facts from the event, tolerating the names the engine may use. */
export function backupOutcome(result: JobFinishedEvent, requestedPath: string): BackupOutcome {
  const d = result.details ?? {};
  const file = str(d.output) ?? str(d.file) ?? str(d.path) ?? (result.ok ? requestedPath : null);
  const fileSize = num(d.outputBytes) ?? num(d.fileSize) ?? num(d.outputSize);
  const ratio = num(d.compressionRatio) ?? (fileSize !== null && result.bytes > 0 ? fileSize / result.bytes : null);
  const sha256 = result.digests?.sha256 ?? str(d.sha256);
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

/** The rescue's figures, or null when the job was no rescue (its details have no rescuedBytes). */
export function rescueOutcome(result: JobFinishedEvent): RescueOutcome | null {
  const d = result.details ?? {};
  const rescuedBytes = num(d.rescuedBytes);
  if (rescuedBytes === null) return null;
  const areas = Array.isArray(d.badAreas) ? (d.badAreas as unknown[]) : [];
  const badAreas = areas
    .map((a) => (typeof a === 'object' && a !== null ? { offset: num((a as { offset?: unknown }).offset), length: num((a as { length?: unknown }).length) } : null))
    .filter((a): a is { offset: number; length: number } => a !== null && a.offset !== null && a.length !== null);
  return {
    file: str(d.output),
    mapfile: str(d.mapfile),
    rescuedBytes,
    lostBytes: num(d.lostBytes) ?? 0,
    badAreas: badAreas.slice(0, BAD_AREAS_SHOWN),
    badAreaCount: num(d.badAreaCount) ?? badAreas.length,
  };
}
