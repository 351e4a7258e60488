import { notableDiskBytes, type FolderBackupJobDetails } from '../../shared/job-events';
import { formatBytes } from '../../shared/units';
import { useApp } from '../store/store-context';

/** A backup into a folder: the generation added, the new data it stored, and the folder. */
export function FolderBackupResult({ details: d }: { details: FolderBackupJobDetails }) {
  const revealRequested = useApp((s) => s.revealRequested);
  const nativeDialogs = useApp((s) => s.nativeDialogs);
  const notice = useApp((s) => s.backup.notice);
  const disk = notableDiskBytes(d);
  return (
    <div className="result">
      <dl className="facts" aria-label="Backup">
        <div>
          <dt>Backup folder</dt>
          <dd className="file-name">{d.folder}</dd>
        </div>
        <div>
          <dt>Generation</dt>
          <dd>
            <span className="num">{d.number}</span> ({d.generation})
          </dd>
        </div>
        <div>
          <dt>Drive data</dt>
          <dd>
            <span className="num">{formatBytes(d.storedBytes)}</span> of a <span className="num">{formatBytes(d.size)}</span> drive
          </dd>
        </div>
        <div>
          <dt>New data stored</dt>
          <dd>
            <span className="num">{formatBytes(d.newBytes)}</span> in {d.newPieces} of {d.pieces} pieces, <span className="num">{formatBytes(d.newStoredBytes)}</span> compressed
            {disk !== null && (
              <>
                , about <span className="num">{formatBytes(disk)}</span> on the folder&apos;s disk
              </>
            )}
          </dd>
        </div>
        <div>
          <dt>SHA-256</dt>
          <dd className="hash">{d.sha256}</dd>
        </div>
      </dl>
      {nativeDialogs && (
        <button type="button" className="button" onClick={() => void revealRequested(d.folder)}>
          Show in folder
        </button>
      )}
      {notice && <p className="note">{notice}</p>}
    </div>
  );
}
