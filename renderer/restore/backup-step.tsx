import { useShallow } from 'zustand/react/shallow';
import { FilePathStep } from '../app/file-path-step';
import { useApp } from '../store/store-context';
import { BrowseFilesButton } from '../inside/browse-files-dialog';
import { BackupSummary } from './backup-summary';
import { FolderStep } from './folder-step';
import { SourceKindChoice } from './source-kind-choice';

/** Step 1 of a restore: which backup (a file, or a version in a backup folder), and what it says about itself. */
export function BackupStep() {
  const fromFolder = useApp((s) => s.restoreFolder.kind === 'folder');
  return fromFolder ? <FolderStep /> : <FileStep />;
}

/** Step 1 from a backup file. */
function FileStep() {
  const { pathInput, details, inspecting, error } = useApp(
    useShallow((s) => ({ pathInput: s.restore.pathInput, details: s.restore.details, inspecting: s.restore.inspecting, error: s.restore.error })),
  );
  const restorePathTyped = useApp((s) => s.restorePathTyped);
  const restorePathSubmitted = useApp((s) => s.restorePathSubmitted);
  const restoreChooseRequested = useApp((s) => s.restoreChooseRequested);
  const nativeDialogs = useApp((s) => s.nativeDialogs);
  return (
    <FilePathStep
      number={1}
      title="Backup"
      headingId="step-backup"
      inputId="restore-path"
      label="Backup path"
      placeholder="/home/me/backups/sdcard.img.zst"
      chooseLabel="Choose backup…"
      intro={<SourceKindChoice />}
      hint={nativeDialogs ? 'or type its path:' : 'or type its full path:'}
      submitLabel="Open"
      pathInput={pathInput}
      inspecting={inspecting}
      error={error}
      onPathTyped={restorePathTyped}
      onPathSubmitted={() => void restorePathSubmitted()}
      onChooseRequested={() => void restoreChooseRequested()}
    >
      {details && <BackupSummary backup={details} />}
      {details && <BrowseFilesButton source={details.path} />}
    </FilePathStep>
  );
}
