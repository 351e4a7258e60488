import type { JobView } from '../store/job-view';
import { driveLabel } from '../drives/drive-names';
import { averageRate, bytesMoved, bytesText, durationText, verificationText } from './job-facts';

/**
 * What a finished job did, in the figures a person asks for: how long it
 * took, how fast, which drives (by model and size, not only their path), how
 * it was checked, and whether the drive may be pulled out now.
 */
export function JobSummary({ job }: { job: JobView }) {
  const result = job.result;
  if (!result) return null;
  const took = durationText(job);
  // A format writes a few megabytes of tables, not the drive's size: no byte count or speed to report.
  const bytes = job.kind === 'format' ? 0 : bytesMoved(job);
  const rate = averageRate(job, bytes);
  const devices = job.targets.map((t) => t.device).filter((d) => d.startsWith('/dev/'));
  const driveDevices = job.kind === 'backup' && job.source ? [job.source] : devices;
  const checks = verificationText(job);
  return (
    <div className="job-summary">
      <dl className="facts" aria-label="Summary">
        {took && (
          <div>
            <dt>Took</dt>
            <dd className="num">{took}</dd>
          </div>
        )}
        {bytesText(bytes) && (
          <div>
            <dt>{job.kind === 'backup' ? 'Read' : 'Written'}</dt>
            <dd className="num">{bytesText(bytes)}</dd>
          </div>
        )}
        {rate && (
          <div>
            <dt>Average speed</dt>
            <dd className="num">{rate}</dd>
          </div>
        )}
        {driveDevices.map((device) => (
          <div key={device}>
            <dt>{driveDevices.length > 1 ? 'Drive' : job.kind === 'backup' ? 'Drive read' : 'Drive'}</dt>
            <dd>
              {driveLabel(device, job.drives)} <span className="device muted">{device}</span>
            </dd>
          </div>
        ))}
        {checks.length > 0 && (
          <div>
            <dt>Verified</dt>
            <dd className="checks">
              {checks.map((c) => (
                <span key={c} className="hash-line">
                  {c}
                </span>
              ))}
            </dd>
          </div>
        )}
      </dl>
      {result.ok && driveDevices.length > 0 && (
        <p className="ok-note">
          Everything was flushed to {driveDevices.length === 1 ? 'the drive' : 'the drives'}: you can remove {driveDevices.length === 1 ? 'it' : 'them'} now.
        </p>
      )}
    </div>
  );
}
