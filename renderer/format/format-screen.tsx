import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { storedLabel } from '../../shared/format-rules';
import { ConfirmEraseDialog } from '../drives/confirm-erase-dialog';
import { DriveList } from '../drives/drive-list';
import { useTargetOptions } from '../drives/use-drive-options';
import { JobPanel } from '../job/job-panel';
import { FORMAT_FACTS, formatFilesystemNow, formatLabelProblem, formatTargetNow } from '../store/format-slice';
import { useApp } from '../store/store-context';
import { FormatResult } from './format-result';
import { FormatOptions, FS_NAME } from './format-options';

/**
 * Format: return a stick to normal (after an ISO was flashed, a 64 GB stick
 * shows a tiny partition). One drive, a filesystem and label, the same
 * refusals and confirmation as a flash; then progress and the result.
 */
export function FormatScreen() {
  const job = useApp((s) => s.format.job);
  const selected = useApp((s) => s.format.selected);
  const confirming = useApp((s) => s.format.confirming);
  const label = useApp((s) => s.format.label);
  const target = useApp(formatTargetNow);
  const made = useApp(formatFilesystemNow);
  const problem = useApp(formatLabelProblem);
  const list = useApp((s) => s.drives.list);
  const a = useApp(
    useShallow((s) => ({
      formatDriveChosen: s.formatDriveChosen,
      formatRequested: s.formatRequested,
      formatConfirmed: s.formatConfirmed,
      formatConfirmDismissed: s.formatConfirmDismissed,
      newFormatRequested: s.newFormatRequested,
    })),
  );
  const options = useTargetOptions(FORMAT_FACTS);
  const drives = useMemo(() => list.filter((d) => d.device === target), [list, target]);
  if (job.status !== 'idle') {
    // After a reload the form is empty: the job names its drive.
    const device = job.targets[0]?.device ?? selected ?? 'drive';
    return (
      <JobPanel
        slot="format"
        title={`Formatting ${device}`}
        doneTitle={`Format of ${device}`}
        againLabel="Format another"
        onAgain={a.newFormatRequested}
        result={job.result ? <FormatResult result={job.result} /> : null}
      />
    );
  }
  const blocker = target === null ? 'Choose a drive.' : problem ? 'Fix the label first.' : null;
  const what = made ? `one ${FS_NAME[made]} partition labelled "${storedLabel(label, made)}"` : 'an empty filesystem';
  return (
    <>
      <div className="steps two">
        <section className="card step" aria-labelledby="step-format-drive">
          <h2 id="step-format-drive">
            <span className="step-number">1</span> Drive
          </h2>
          <DriveList use="write" legend="Drive to format" kind="radio" group="format-target" options={options} selected={selected ? [selected] : []} onToggle={a.formatDriveChosen} />
        </section>
        <FormatOptions />
      </div>
      <section className="action-bar" aria-labelledby="step-format">
        <h2 id="step-format">
          <span className="step-number">3</span> Format
        </h2>
        <p className={`action-text${blocker ? ' muted' : ''}`}>{blocker ?? `Erases ${target} and makes ${what} over the whole drive.`}</p>
        <button type="button" className="button primary big" disabled={blocker !== null} onClick={a.formatRequested}>
          Format
        </button>
        {confirming && target && (
          <ConfirmEraseDialog
            title="Erase this drive?"
            what={what}
            drives={drives}
            confirmLabel="Erase and format"
            onConfirm={() => void a.formatConfirmed()}
            onDismiss={a.formatConfirmDismissed}
          />
        )}
      </section>
    </>
  );
}
