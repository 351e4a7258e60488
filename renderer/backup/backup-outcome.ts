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
