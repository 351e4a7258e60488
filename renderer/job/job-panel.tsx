import { useEffect, useRef, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatDuration, formatRate } from '../../shared/units';
import { percentOf } from '../store/job-view';
import type { JobSlot } from '../store/jobs-slice';
import type { JobPhase } from '../../shared/job-events';
import { useApp } from '../store/store-context';
import { PhaseSteps, phaseLabel } from './phase-steps';
import { ProgressBar } from './progress-bar';
import { TargetResults } from './target-results';
import { ThroughputGraph } from './throughput-graph';
import { JobSummary } from './job-summary';
import { DownloadStats } from './download-stats';
import { formatRatio, verdictText } from './verdict';

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
  /** Phases this job does not have (a backup into a folder reads nothing back), left out of the steps. */
  skipPhases?: readonly JobPhase[];
}

/** A running or finished job: phase, progressbar, MB/s, ETA, graph, targets, Cancel; then the verdict. */
export function JobPanel({ slot, title, doneTitle, result, againLabel, onAgain, skipPhases }: Props) {
  const job = useApp(useShallow((s) => s[slot].job));
  const cancelRequested = useApp((s) => s.cancelRequested);
  const finished = job.status === 'finished';
  const percent = percentOf(job);
  const phase = phaseLabel(job.kind, job.phase);
  const cancelled = job.error?.code === 'E_CANCELLED';
  const heading = finished ? doneTitle : title;
  const headingRef = useRef<HTMLHeadingElement>(null);
  const verdictRef = useRef<HTMLDivElement>(null);
  // Focus follows the job: to the panel when it starts (the form that had focus is gone), to the verdict when it ends.
  useEffect(() => {
    (finished ? verdictRef.current : headingRef.current)?.focus();
  }, [finished]);
  return (
    <section className="card job-panel" aria-label={heading}>
      <header className="job-head">
        <h2 ref={headingRef} tabIndex={-1}>
          {heading}
        </h2>
        {!(finished && job.error) && <PhaseSteps kind={job.kind} phase={job.phase} skip={skipPhases} />}
      </header>
      {!finished && (
        <>
          <div className="phase-line">
            <p className="phase" aria-live="polite">
              {job.cancelling ? 'Cancelling…' : phase}
            </p>
            <p className="percent num" aria-hidden="true">
              {percent === null ? '' : `${percent}%`}
            </p>
          </div>
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
          <DownloadStats job={job} />
          <ThroughputGraph samples={job.rateHistory} />
        </>
      )}
      {finished && (
        <div ref={verdictRef} tabIndex={-1} role="status" className={`verdict ${job.error ? (cancelled ? 'is-cancelled' : 'is-failed') : 'is-ok'}`}>
          {verdictText(job)}
        </div>
      )}
      <TargetResults targets={job.targets} />
      {job.warnings.map((w) => (
        <p key={w} className="warning">
          {w}
        </p>
      ))}
      {finished && <JobSummary job={job} />}
      {finished && result}
      <div className="actions action-bar">
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
