import type { JobKind, JobPhase } from '../../shared/job-events';

/** What each phase means for this kind of job, in words a person uses. */
export function phaseLabel(kind: JobKind | null, phase: JobPhase | null): string {
  switch (phase) {
    case null:
    case 'preparing':
      return 'Preparing';
    case 'decompressing':
      return 'Decompressing';
    case 'downloading':
      return 'Downloading';
    case 'writing':
      return kind === 'backup' ? 'Reading the drive' : kind === 'format' ? 'Formatting' : 'Writing';
    case 'verifying':
      return kind === 'backup' ? 'Checking the backup' : 'Verifying';
    case 'copying':
      return 'Copying what reads';
    case 'trimming':
      return 'Trimming bad areas';
    case 'scraping':
      return 'Scraping bad areas';
    case 'retrying':
      return 'Retrying bad sectors';
    case 'done':
      return 'Done';
    default:
      return 'Working';
  }
}

const ORDER: JobPhase[] = ['preparing', 'writing', 'verifying', 'done'];
/** Rescue mode (a backup of a drive with unreadable sectors falls back to it): GNU ddrescue's passes. */
const RESCUE_ORDER: JobPhase[] = ['copying', 'trimming', 'scraping', 'retrying', 'done'];

/** Preparing → Writing → Verifying → Done, the current one marked. */
export function PhaseSteps({ kind, phase, skip = [] }: { kind: JobKind | null; phase: JobPhase | null; skip?: readonly JobPhase[] }) {
  // Downloading and decompressing feed the write: the step shown is Writing, named for what holds it.
  const current = phase === 'decompressing' || phase === 'downloading' ? 'writing' : (phase ?? 'preparing');
  const steps = (kind === 'rescue' ? RESCUE_ORDER : ORDER).filter((p) => !skip.includes(p));
  const at = steps.indexOf(current);
  return (
    <ol className="phases" aria-label="Phases">
      {steps.map((p, i) => (
        <li key={p} className={i < at ? 'is-done' : i === at ? 'is-current' : ''} aria-current={i === at ? 'step' : undefined}>
          {phaseLabel(kind, p === 'writing' && (phase === 'decompressing' || phase === 'downloading') ? phase : p)}
        </li>
      ))}
    </ol>
  );
}
