import type { ErrorInfo } from '../../shared/error-codes';
import type { TargetProgress, TargetStatus } from '../../shared/job-events';
import { formatBytes } from '../../shared/units';

const STATUS: Record<TargetStatus, string> = {
  pending: 'Waiting',
  writing: 'Writing',
  written: 'Written (not verified)',
  verifying: 'Verifying',
  verified: 'Verified',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** "Failed: reason", naming the byte offset when the engine gave one the message does not already state. */
export function failureText(error: ErrorInfo | undefined): string {
  if (!error) return 'Failed';
  const offset = error.offset !== undefined && !error.message.includes(String(error.offset)) ? ` (at byte ${error.offset})` : '';
  return `Failed: ${error.message}${offset}`;
}

/** Each target and where it stands: live while the job runs, the verdict after. */
export function TargetResults({ targets }: { targets: readonly TargetProgress[] }) {
  if (targets.length === 0) return null;
  return (
    <ul className="target-results" aria-label="Drives">
      {targets.map((t) => (
        <li key={t.device} className={`target-result status-${t.status}`}>
          <span className="device">{t.device}</span>
          <span className="target-status">{t.status === 'failed' ? failureText(t.error) : STATUS[t.status]}</span>
          {(t.status === 'writing' || t.status === 'verifying') && (
            <span className="num muted">{formatBytes(t.status === 'writing' ? t.bytesWritten : t.bytesVerified)}</span>
          )}
        </li>
      ))}
    </ul>
  );
}
