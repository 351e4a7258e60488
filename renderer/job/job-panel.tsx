import type { ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatDuration, formatRate } from '../../shared/units';
import { percentOf, type JobView } from '../store/job-view';
import type { JobSlot } from '../store/jobs-slice';
import { useApp } from '../store/store-context';
import { PhaseSteps, phaseLabel } from './phase-steps';
import { ProgressBar } from './progress-bar';
import { TargetResults, failureText } from './target-results';
import { ThroughputGraph } from './throughput-graph';

interface Props {
  slot: JobSlot;
  /** Heading while the job runs ("Flashing os.img") and once it is over ("os.img"). */
  title: string;
  doneTitle: string;
  /** Shown under the stats once the job has finished (e.g. the backup's file and checksum). */
  result?: ReactNode;
  /** The button that leads back to the form after a result. */
  againLabel: string;
  onAgain(): void;
}

/** A running or finished job: phase, progressbar, MB/s, ETA, graph, targets, Cancel; then the verdict. */
export function JobPanel({ slot, title, doneTitle, result, againLabel, onAgain }: Props) {
  const job = useApp(useShallow((s) => s[slot].job));
  const cancelRequested = useApp((s) => s.cancelRequested);
  const finished = job.status === 'finished';
  const percent = percentOf(job);
  const phase = phaseLabel(job.kind, job.phase);
  const cancelled = job.error?.code === 'E_CANCELLED';
  const heading = finished ? doneTitle : title;
  return (
    <section className="card job-panel" aria-label={heading}>
      <header className="job-head">
        <h2>{heading}</h2>
        <PhaseSteps kind={job.kind} phase={job.phase} verify={slot !== 'backup' || job.phase === 'verifying'} />
      </header>
      {!finished && (
        <>
          <p className="phase" aria-live="polite">
            {job.cancelling ? 'Cancelling…' : phase}
          </p>
          <ProgressBar label={`${phase} progress`} percent={percent} bytesDone={job.bytesDone} totalBytes={job.totalBytes} />
          <dl className="stats">
            <div>
              <dt>Speed</dt>
              <dd className="num">{formatRate(job.bytesPerSecond)}</dd>
            </div>
            <div>
              <dt>Time left</dt>
              <dd className="num">{formatDuration(job.etaSeconds)}</dd>
            </div>
            <div>
              <dt>Done</dt>
              <dd className="num">
                {formatBytes(job.bytesDone)}
                {job.totalBytes ? ` of ${formatBytes(job.totalBytes)}` : ''}
              </dd>
            </div>
            {job.compressionRatio !== null && (
              <div>
                <dt>Ratio so far</dt>
                <dd className="num">{formatRatio(job.compressionRatio)}</dd>
              </div>
            )}
          </dl>
          <ThroughputGraph samples={job.rateHistory} />
        </>
      )}
      {finished && (
        <div role="status" className={`verdict ${job.error ? (cancelled ? 'is-cancelled' : 'is-failed') : 'is-ok'}`}>
          {verdictText(job)}
        </div>
      )}
      <TargetResults targets={job.targets} />
      {job.warnings.map((w) => (
        <p key={w} className="warning">
          {w}
        </p>
      ))}
      {finished && result}
      <div className="actions">
        {!finished && (
          <button type="button" className="button" onClick={() => void cancelRequested(slot)} disabled={job.cancelling}>
            Cancel
          </button>
        )}
        {finished && (
          <button type="button" className="button primary" onClick={onAgain}>
            {againLabel}
          </button>
        )}
      </div>
    </section>
  );
}

/**
 * One line that sums the job up. Per-target reasons are listed below it, so
 * when only some targets failed this counts rather than repeats them.
 */
export function verdictText(job: JobView): string {
  const targets = job.targets;
  const good = targets.filter((t) => t.status === 'verified' || t.status === 'written').length;
  const verified = targets.filter((t) => t.status === 'verified').length;
  if (!job.error) {
    if (targets.length <= 1) return verified === targets.length ? 'Done and verified.' : 'Done.';
    return verified === targets.length ? `All ${targets.length} drives written and verified.` : `All ${targets.length} drives written.`;
  }
  if (job.error.code === 'E_CANCELLED') return `Cancelled. ${job.error.message}`;
  const jobLevel = job.result?.error !== undefined || job.result === null;
  if (!jobLevel && targets.length > 1) return `${good} of ${targets.length} drives succeeded; see below.`;
  return failureText(job.error);
}

/** "3.2 : 1" style is hard to read; "31% of original" says what a person wants to know. */
export function formatRatio(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}% of original`;
}
