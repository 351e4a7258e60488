import type { JobKind, JobPhase } from '../../shared/job-events';

/** What each phase means for this kind of job, in words a person uses. */
export function phaseLabel(kind: JobKind | null, phase: JobPhase | null): string {
  switch (phase) {
    case null:
    case 'preparing':
      return 'Preparing';
    case 'decompressing':
      return 'Decompressing';
    case 'writing':
      return kind === 'backup' ? 'Reading the drive' : 'Writing';
    case 'verifying':
      return kind === 'backup' ? 'Checking the backup' : 'Verifying';
    case 'done':
      return 'Done';
    default:
      return 'Working';
  }
}

const ORDER: JobPhase[] = ['preparing', 'writing', 'verifying', 'done'];

/** Preparing → Writing → Verifying → Done, the current one marked. */
export function PhaseSteps({ kind, phase }: { kind: JobKind | null; phase: JobPhase | null }) {
  const current = phase === 'decompressing' ? 'writing' : (phase ?? 'preparing');
  const steps = ORDER;
  const at = steps.indexOf(current);
  return (
    <ol className="phases" aria-label="Phases">
      {steps.map((p, i) => (
        <li key={p} className={i < at ? 'is-done' : i === at ? 'is-current' : ''} aria-current={i === at ? 'step' : undefined}>
          {phaseLabel(kind, p === 'writing' && phase === 'decompressing' ? 'decompressing' : p)}
        </li>
      ))}
    </ol>
  );
}
