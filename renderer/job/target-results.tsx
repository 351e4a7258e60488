import type { TargetProgress, TargetStatus } from '../../shared/job-events';
import { formatBytes } from '../../shared/units';
import { failureText } from './verdict';

const STATUS: Record<TargetStatus, string> = {
  pending: 'Waiting',
  writing: 'Writing',
  written: 'Written (not verified)',
  verifying: 'Verifying',
  verified: 'Verified',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

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
