import type { ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatDuration, formatRate } from '../../shared/units';
import { percentOf } from '../store/job-view';
import type { JobSlot } from '../store/jobs-slice';
import { useApp } from '../store/store-context';
import { PhaseSteps, phaseLabel } from './phase-steps';
import { ProgressBar } from './progress-bar';
import { TargetResults, failureText } from './target-results';
import { ThroughputGraph } from './throughput-graph';

interface Props {
  slot: JobSlot;
  title: string;
  /** Shown under the stats once the job has finished (e.g. the backup's file and checksum). */
  result?: ReactNode;
  /** The button that leads back to the form after a result. */
  againLabel: string;
  onAgain(): void;
}

/** A running or finished job: phase, progressbar, MB/s, ETA, graph, targets, Cancel; then the verdict. */
export function JobPanel({ slot, title, result, againLabel, onAgain }: Props) {
  const job = useApp(useShallow((s) => s[slot].job));
  const cancelRequested = useApp((s) => s.cancelRequested);
  const finished = job.status === 'finished';
  const percent = percentOf(job);
  const phase = phaseLabel(job.kind, job.phase);
  const cancelled = job.error?.code === 'E_CANCELLED';
  return (
    <section className="card job-panel" aria-label={title}>
      <header className="job-head">
        <h2>{title}</h2>
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
          {job.error ? (cancelled ? 'Cancelled. ' + job.error.message : failureText(job.error)) : 'Done.'}
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

/** "3.2 : 1" style is hard to read; "31% of original" says what a person wants to know. */
export function formatRatio(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}% of original`;
}
