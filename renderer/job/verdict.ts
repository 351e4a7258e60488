import type { ErrorInfo } from '../../shared/error-codes';
import type { JobKind } from '../../shared/job-events';
import type { JobView } from '../store/job-view';

const KIND: Partial<Record<JobKind, string>> = { flash: 'The flash', backup: 'The backup', restore: 'The restore', rescue: 'The rescue', format: 'The format' };
const DONE: Partial<Record<JobKind, string>> = { flash: 'Flashed', backup: 'Backed up', restore: 'Restored', rescue: 'Rescued', format: 'Formatted' };

/** "Failed: reason", naming the byte offset when the engine gave one the message does not already state. */
export function failureText(error: ErrorInfo | undefined): string {
  if (!error) return 'Failed';
  const offset = error.offset !== undefined && !error.message.includes(String(error.offset)) ? ` (at byte ${error.offset})` : '';
  return `Failed: ${error.message}${offset}`;
}

/**
 * One line that sums a finished job up. Each target's own result is listed
 * below it with its reason, so this line counts rather than repeats them.
 */
export function verdictText(job: Pick<JobView, 'kind' | 'targets' | 'error'>): string {
  const { targets, error } = job;
  const what = (job.kind && KIND[job.kind]) ?? 'The job';
  const verified = targets.filter((t) => t.status === 'verified').length;
  const good = targets.filter((t) => t.status === 'verified' || t.status === 'written').length;
  if (!error) {
    const done = (job.kind && DONE[job.kind]) ?? 'Done';
    if (targets.length <= 1) return verified === targets.length ? `${done} and verified.` : `${done}.`;
    return verified === targets.length ? `All ${targets.length} drives written and verified.` : `All ${targets.length} drives written.`;
  }
  if (error.code === 'E_CANCELLED') {
    const touched = targets.filter((t) => t.bytesWritten > 0).length;
    return touched > 0 && job.kind !== 'backup'
      ? `Cancelled. ${touched === 1 ? 'The drive was' : `${touched} drives were`} partly written: write ${touched === 1 ? 'it' : 'them'} again before use.`
      : 'Cancelled.';
  }
  // A rescue that lost bytes still saved the rest: its result lists what and where.
  if (job.kind === 'rescue' && error.code === 'E_BAD_SECTOR') return 'Rescued what could be read; some sectors could not be read.';
  const listedBelow = targets.some((t) => t.error?.message === error.message);
  if (listedBelow || (targets.some((t) => t.error) && targets.length > 1)) {
    return targets.length > 1 ? `${what} failed on ${targets.length - good} of ${targets.length} drives.` : `${what} failed.`;
  }
  return failureText(error);
}

/** "31% of original" says what a person wants to know; "3.2 : 1" needs arithmetic. */
export function formatRatio(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}% of original`;
}
