import type { BackupDetails } from '../../shared/ipc-contract';
import { formatBytes } from '../../shared/units';
import { DriveMap } from '../drives/drive-map';

function when(iso: string | null): string {
  if (!iso) return 'unknown';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Bytes each partition's filesystem used when a smart backup was taken, for its map. */
function usedOf(backup: BackupDetails): Record<number, number | null> | undefined {
  return backup.storage ? Object.fromEntries(backup.storage.partitions.map((p) => [p.number, p.usedBytes])) : undefined;
}

/** What the backup says about itself: read before any drive is erased. */
export function BackupSummary({ backup }: { backup: BackupDetails }) {
  // A backup folder's generation (service: backup-folders.ts): its "file size" is the new data it added to the folder.
  const inFolder = backup.format === 'backup-folder';
  return (
    <>
      <dl className="facts" aria-label="Backup details">
        <div>
          <dt>{inFolder ? 'Generation' : 'File'}</dt>
          <dd className="file-name" title={backup.path}>
            {backup.name}
          </dd>
        </div>
        <div>
          <dt>Taken from</dt>
          <dd>
            {backup.sourceModel ?? 'unknown drive'}
            {backup.sourceSerial ? ` (serial ${backup.sourceSerial})` : ''}
          </dd>
        </div>
        <div>
          <dt>Date</dt>
          <dd>{when(backup.createdAt)}</dd>
        </div>
        <div>
          <dt>Drive size</dt>
          <dd className="num">{formatBytes(backup.sourceSize ?? backup.size ?? NaN)}</dd>
        </div>
        <div>
          <dt>Format</dt>
          <dd>
            {backup.formatLabel || backup.format}, <span className="num">{formatBytes(backup.fileSize)}</span>
            {inFolder && ' of new data added to the folder'}
          </dd>
        </div>
        {backup.storage && (
          <div>
            <dt>Stored</dt>
            <dd>
              {backup.storage.mode === 'used-blocks' ? 'Smart: only what the filesystems use' : 'Every sector'},{' '}
              <span className="num">{formatBytes(backup.storage.storedBytes)}</span> of the drive
              {backup.storage.partitions.length > 0 && (
                <ul className="stored-parts">
                  {backup.storage.partitions.map((p) => (
                    <li key={p.number}>
                      {p.number}: {p.filesystem ?? 'no filesystem recognised'}, {p.stored === 'used-blocks' ? 'used blocks' : `whole${p.reason ? `: ${p.reason}` : ''}`}{' '}
                      <span className="num">({formatBytes(p.storedBytes)})</span>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </div>
        )}
        <div>
          <dt>SHA-256</dt>
          <dd className="hash">{backup.sha256 ?? 'not recorded'}</dd>
        </div>
      </dl>
      {backup.partitions && backup.partitions.length > 0 && (
        <DriveMap title="What the backup holds" map={{ size: backup.sourceSize ?? backup.size, partitions: backup.partitions, filesystem: null, usedBytes: usedOf(backup) }} />
      )}
    </>
  );
}
