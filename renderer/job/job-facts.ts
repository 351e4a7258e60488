import { formatBytes, formatDuration, formatRate } from '../../shared/units';
import type { JobView } from '../store/job-view';

/** The file name at the end of a path; null for no path. */
export function baseName(path: string | null): string | null {
  if (!path) return null;
  return path.split('/').filter(Boolean).pop() ?? path;
}

/** Seconds from the job's start to its end, when the service stamped both. */
export function elapsedSeconds(job: Pick<JobView, 'startedAt' | 'finishedAt'>): number | null {
  if (job.startedAt === null || job.finishedAt === null || job.finishedAt < job.startedAt) return null;
  return (job.finishedAt - job.startedAt) / 1000;
}

/** "1:05 (24.0 MB at 18.2 MB/s on average)": the figures a result starts with. */
export function durationText(job: Pick<JobView, 'startedAt' | 'finishedAt'>): string | null {
  const s = elapsedSeconds(job);
  if (s === null) return null;
  return s < 1 ? 'under a second' : formatDuration(s);
}

/** Bytes of content processed per second over the whole job; null when either is unknown. */
export function averageRate(job: Pick<JobView, 'startedAt' | 'finishedAt'>, bytes: number): string | null {
  const s = elapsedSeconds(job);
  if (s === null || s <= 0 || bytes <= 0) return null;
  return formatRate(bytes / s);
}

/** How the result was checked, in words: what was read back, and which checksum it matched. */
export function verificationText(job: Pick<JobView, 'kind' | 'targets' | 'result'>): string[] {
  const out: string[] = [];
  const result = job.result;
  if (!result?.ok) return out;
  const verified = job.targets.filter((t) => t.status === 'verified').length;
  if (job.kind === 'format') {
    if (verified > 0) out.push('The partition table and the new filesystem were read back from the drive: one partition over the whole drive, with the filesystem and label asked for.');
    return out;
  }
  if (result.details?.kind === 'folder-backup') {
    // Nothing is read back: what makes the generation trustworthy is how its pieces are named and written (docs/backup-folder.md).
    out.push('Each new piece was stored under the SHA-256 of its data and made durable before the generation was recorded; a restore checks every piece against it.');
    return out;
  }
  if (job.kind === 'backup') {
    out.push('The backup file was read back from the disk, decompressed and compared with the drive, chunk by chunk.');
  } else if (verified > 0) {
    out.push(
      `${verified === 1 ? 'The drive was' : `All ${verified} drives were`} read back from the device (bypassing the cache) and compared with the ${job.kind === 'restore' ? 'backup' : 'image'}, byte for byte.`,
    );
  } else if (job.targets.length > 0) {
    out.push('Not verified: the drive was not read back.');
  }
  const sha = result.digests?.sha256;
  const restored = result.details?.kind === 'restore' ? result.details : null;
  if (restored?.storedBytes !== undefined) out.push('A smart backup: only what it stored was written, and every 4 MiB matched the checksum the backup recorded for it.');
  else if (restored) out.push(`What was written has the SHA-256 the backup recorded: ${restored.sha256}.`);
  else if (job.kind === 'flash' && sha) out.push(`The image matched its published SHA-256: ${sha}.`);
  return out;
}

/** Bytes the job moved, for its average speed: what was written (or read, for a backup). */
export function bytesMoved(job: Pick<JobView, 'result'>): number {
  return job.result?.bytes ?? 0;
}

/** "24.0 MB" with its unit, or null for none. */
export function bytesText(bytes: number): string | null {
  return bytes > 0 ? formatBytes(bytes) : null;
}
