import { DriveList } from '../drives/drive-list';
import { LayoutMap } from '../drives/layout-map';
import { useSourceOptions } from '../drives/use-drive-options';
import { JobPanel } from '../job/job-panel';
import { backupDestinationPath } from '../store/backup-target-path';
import { useApp } from '../store/store-context';
import { BackupActionBar, BackupForm } from './backup-form';
import { BackupPlanTable, useUsedBytes } from './backup-plan';
import { BackupResult } from './backup-result';

const FOLDER_SKIPS = ['verifying'] as const;

/** Back up: the drive to read, where the image goes and how compressed; then progress and the result. */
export function BackupScreen() {
  const job = useApp((s) => s.backup.job);
  const source = useApp((s) => s.backup.source);
  const reading = job.source ?? source ?? 'drive';
  const pathInput = useApp(backupDestinationPath);
  const backupSourceChosen = useApp((s) => s.backupSourceChosen);
  const newBackupRequested = useApp((s) => s.newBackupRequested);
  const options = useSourceOptions(pathInput);
  // A backup into a folder has no read-back phase (its pieces are named by their hashes).
  const intoFolder = useApp((s) => s.backupFolder.destination === 'folder' || s.backup.job.result?.details?.kind === 'folder-backup');
  const usedBytes = useUsedBytes(source);
  if (job.status !== 'idle') {
    return (
      <JobPanel
        slot="backup"
        title={`Backing up ${reading}`}
        doneTitle={`Backup of ${reading}`}
        againLabel="Back up another"
        onAgain={newBackupRequested}
        skipPhases={intoFolder ? FOLDER_SKIPS : undefined}
        result={job.result ? <BackupResult result={job.result} /> : null}
      />
    );
  }
  return (
    <>
      <div className="steps two">
        <section className="card step" aria-labelledby="step-source">
          <h2 id="step-source">
            <span className="step-number">1</span> Drive to back up
          </h2>
          <DriveList use="read"
            legend="Drive to back up"
            kind="radio"
            group="backup-source"
            options={options}
            selected={source ? [source] : []}
            onToggle={backupSourceChosen}
          />
          {source && <LayoutMap path={source} title={`On ${source} now`} usedBytes={usedBytes} />}
          <BackupPlanTable />
        </section>
        <BackupForm />
      </div>
      <BackupActionBar />
    </>
  );
}
