import { useApp } from '../store/store-context';

/** A backup file or a backup folder: what the restore reads. */
export function SourceKindChoice() {
  const kind = useApp((s) => s.restoreFolder.kind);
  const chosen = useApp((s) => s.restoreSourceKindChosen);
  return (
    <fieldset className="mode-choice">
      <legend>Restore from</legend>
      <label className="check">
        <input type="radio" name="restore-source-kind" checked={kind === 'file'} onChange={() => chosen('file')} />
        A backup file
      </label>
      <label className="check">
        <input type="radio" name="restore-source-kind" checked={kind === 'folder'} onChange={() => chosen('folder')} />
        A backup folder (choose one of its generations)
      </label>
    </fieldset>
  );
}
