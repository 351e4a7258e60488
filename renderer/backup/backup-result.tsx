import { detailsOf, type JobFinishedEvent } from '../../shared/job-events';
import { formatBytes } from '../../shared/units';
import { formatRatio } from '../job/verdict';
import { rescueOffered } from '../store/backup-slice';
import { useApp } from '../store/store-context';
import { backupOutcome, rescueOutcome } from './backup-outcome';
import { FolderBackupResult } from './folder-backup-result';
import { RescueOffer, RescueResult } from './rescue-result';

/**
 * The file, its size, the ratio, the SHA-256, and "Show in folder"; after a
 * failure on unreadable sectors, the offer to rescue; after a rescue, what it
 * saved and lost.
 */
export function BackupResult({ result }: { result: JobFinishedEvent }) {
  const pathInput = useApp((s) => s.backup.pathInput);
  const revealRequested = useApp((s) => s.revealRequested);
  const nativeDialogs = useApp((s) => s.nativeDialogs);
  const notice = useApp((s) => s.backup.notice);
  const offerRescue = useApp((s) => rescueOffered(s.backup.job));
  const rescue = rescueOutcome(result);
  if (rescue) return <RescueResult rescue={rescue} />;
  if (offerRescue) return <RescueOffer />;
  if (!result.ok) return null;
  const folder = detailsOf(result, 'folder-backup');
  if (folder) return <FolderBackupResult details={folder} />;
  const o = backupOutcome(result, pathInput.trim());
  return (
    <div className="result">
      <dl className="facts" aria-label="Backup">
        <div>
          <dt>File</dt>
          <dd className="file-name">{o.file ?? 'unknown'}</dd>
        </div>
        <div>
          <dt>Drive content</dt>
          <dd className="num">{formatBytes(result.bytes)}</dd>
        </div>
        <div>
          <dt>File size</dt>
          <dd className="num">{o.fileSize === null ? 'unknown' : formatBytes(o.fileSize)}</dd>
        </div>
        <div>
          <dt>Ratio</dt>
          <dd className="num">{o.ratio === null ? 'unknown' : formatRatio(o.ratio)}</dd>
        </div>
        <div>
          <dt>SHA-256</dt>
          <dd className="hash">{o.sha256 ?? 'not computed'}</dd>
        </div>
      </dl>
      {o.file && nativeDialogs && (
        <button type="button" className="button" onClick={() => void revealRequested(o.file as string)}>
          Show in folder
        </button>
      )}
      {notice && <p className="note">{notice}</p>}
    </div>
  );
}
