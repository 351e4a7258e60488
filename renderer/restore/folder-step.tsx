import { useShallow } from 'zustand/react/shallow';
import { FilePathStep } from '../app/file-path-step';
import { BrowseFilesButton } from '../inside/browse-files-dialog';
import { useApp } from '../store/store-context';
import { folderLocked } from '../store/restore-folder-slice';
import { BackupSummary } from './backup-summary';
import { FolderPassphraseForm } from './folder-passphrase-form';
import { GenerationList } from './generation-list';
import { SourceKindChoice } from './source-kind-choice';

/** Step 1 of a restore from a backup folder: the folder, its generations by drive, and what the chosen one says about itself. */
export function FolderStep() {
  const f = useApp(useShallow((s) => ({ folderInput: s.restoreFolder.folderInput, info: s.restoreFolder.info, opening: s.restoreFolder.opening, error: s.restoreFolder.error, chosen: s.restoreFolder.chosen, unlocking: s.restoreFolder.unlocking, unlock: s.restoreFolder.unlock })));
  const locked = useApp((s) => folderLocked(s.restoreFolder));
  const { details, inspecting, error } = useApp(useShallow((s) => ({ details: s.restore.details, inspecting: s.restore.inspecting, error: s.restore.error })));
  const a = useApp(
    useShallow((s) => ({
      typed: s.restoreFolderTyped,
      submitted: s.restoreFolderSubmitted,
      choose: s.restoreFolderChooseRequested,
      generationChosen: s.restoreGenerationChosen,
    })),
  );
  return (
    <FilePathStep
      number={1}
      title="Backup"
      headingId="step-backup"
      inputId="restore-folder"
      label="Backup folder"
      placeholder="/home/me/backups/sdcard"
      chooseLabel="Choose folder…"
      intro={<SourceKindChoice />}
      hint="or type its full path:"
      submitLabel="Open"
      pathInput={f.folderInput}
      inspecting={f.opening ?? (f.unlocking ? `${f.info?.path ?? 'the folder'} with its passphrase` : null) ?? (inspecting ? 'the chosen generation' : null)}
      error={f.error ?? error}
      onPathTyped={a.typed}
      onPathSubmitted={() => void a.submitted()}
      onChooseRequested={() => void a.choose()}
    >
      {f.info && locked && <FolderPassphraseForm />}
      {f.info && f.info.generations.length > 0 && <GenerationList info={f.info} chosen={f.chosen} onChoose={(id) => void a.generationChosen(id)} />}
      {details && <BackupSummary backup={details} />}
      {/* An encrypted folder's generation is browsed through the handle main keeps its passphrase under. */}
      {details && (!f.info?.encrypted || f.unlock) && <BrowseFilesButton source={details.path} unlock={f.unlock} />}
    </FilePathStep>
  );
}
