import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { ConfirmEraseDialog } from '../drives/confirm-erase-dialog';
import { DriveList } from '../drives/drive-list';
import { LayoutMap } from '../drives/layout-map';
import { useTargetOptions } from '../drives/use-drive-options';
import { JobPanel } from '../job/job-panel';
import { baseName } from '../job/job-facts';
import { restoreImageFacts } from '../store/drive-options';
import { isSmartBackup, restoreTargetsNow } from '../store/restore-slice';
import { useApp } from '../store/store-context';
import { BackupStep } from './backup-step';

/** Restore: a backup, the drives to write it to, confirmation; then progress and the verdict. */
export function RestoreScreen() {
  const status = useApp((s) => s.restore.job.status);
  const details = useApp((s) => s.restore.details);
  // A backup folder's generation is named by its details ("backups, generation 2"), not by its FOLDER#ID.
  const backupName = useApp((s) => (s.restore.details && s.restore.job.source === s.restore.details.path ? s.restore.details.name : null) ?? baseName(s.restore.job.source) ?? s.restore.details?.name ?? 'backup');
  const selected = useApp((s) => s.restore.selected);
  const confirming = useApp((s) => s.restore.confirming);
  const wipeFreeSpace = useApp((s) => s.restore.wipeFreeSpace);
  const targets = useApp(useShallow(restoreTargetsNow));
  const list = useApp((s) => s.drives.list);
  const a = useApp(
    useShallow((s) => ({
      restoreTargetToggled: s.restoreTargetToggled,
      restoreRequested: s.restoreRequested,
      restoreConfirmed: s.restoreConfirmed,
      restoreConfirmDismissed: s.restoreConfirmDismissed,
      newRestoreRequested: s.newRestoreRequested,
      wipeFreeSpaceToggled: s.wipeFreeSpaceToggled,
    })),
  );
  const options = useTargetOptions(restoreImageFacts(details));
  const drives = useMemo(() => list.filter((d) => targets.includes(d.device)), [list, targets]);
  if (status !== 'idle') {
    return <JobPanel slot="restore" title={`Restoring ${backupName}`} doneTitle={`Restore of ${backupName}`} againLabel="Restore another" onAgain={a.newRestoreRequested} />;
  }
  const blocker = !details ? 'Open a backup first.' : targets.length === 0 ? 'Choose at least one drive.' : null;
  return (
    <>
      <div className="steps">
        <BackupStep />
        <section className="card step" aria-labelledby="step-restore-targets">
          <h2 id="step-restore-targets">
            <span className="step-number">2</span> Drives
          </h2>
          <DriveList use="write" legend="Drives to restore to" kind="checkbox" group="restore-target" options={options} selected={selected} onToggle={a.restoreTargetToggled} />
          {targets.map((device) => (
            <LayoutMap key={device} path={device} title={`On ${device} now (erased by the restore)`} />
          ))}
          {isSmartBackup(details) && (
            <div className="wipe">
              <label className="check">
                <input type="checkbox" checked={wipeFreeSpace} onChange={a.wipeFreeSpaceToggled} aria-describedby="wipe-why" />
                Wipe free space
              </label>
              <p id="wipe-why" className="muted small tight">
                A smart backup writes only what it stored; the drive&apos;s free space keeps its old contents unless wiped.
              </p>
            </div>
          )}
        </section>
      </div>
      <section className="action-bar" aria-labelledby="step-restore">
        <h2 id="step-restore">
          <span className="step-number">3</span> Restore
        </h2>
        <p className="muted action-text">{blocker ?? 'Writes the backup, then reads every drive back and compares it with the recorded SHA-256.'}</p>
        <button type="button" className="button primary big" disabled={blocker !== null} onClick={a.restoreRequested}>
          Restore
        </button>
        {confirming && details && (
          <ConfirmEraseDialog
            title={drives.length === 1 ? 'Erase this drive?' : `Erase ${drives.length} drives?`}
            what={details.name}
            drives={drives}
            confirmLabel="Erase and restore"
            onConfirm={() => void a.restoreConfirmed()}
            onDismiss={a.restoreConfirmDismissed}
          />
        )}
      </section>
    </>
  );
}
