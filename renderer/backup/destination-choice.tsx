import { useApp } from '../store/store-context';

/** A single file or a backup folder: the choice, one sentence each. */
export function DestinationChoice() {
  const destination = useApp((s) => s.backupFolder.destination);
  const chosen = useApp((s) => s.backupDestinationChosen);
  return (
    <fieldset className="mode-choice">
      <legend>Back up into</legend>
      <label className="check">
        <input type="radio" name="backup-destination" checked={destination === 'file'} onChange={() => chosen('file')} aria-describedby="destination-file-why" />
        A single file
      </label>
      <p id="destination-file-why" className="muted small tight">
        One standalone image file of the drive, which any tool that reads zstd, gzip or xz can open.
      </p>
      <label className="check">
        <input type="radio" name="backup-destination" checked={destination === 'folder'} onChange={() => chosen('folder')} aria-describedby="destination-folder-why" />
        A backup folder (keeps every version, stores only changes)
      </label>
      <p id="destination-folder-why" className="muted small tight">
        Each backup adds a generation (a version you can restore later), and only data the folder does not hold yet is stored.
      </p>
    </fieldset>
  );
}
