import type { JobFinishedEvent } from '../../shared/job-events';
import { formatBytes } from '../../shared/units';
import { formatRatio } from '../job/verdict';
import { useApp } from '../store/store-context';

/** What a finished backup produced, read from job-finished (details and digests). */
export interface BackupOutcome {
  file: string | null;
  fileSize: number | null;
  ratio: number | null;
  sha256: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** Reads the backup's facts from the event, tolerating the names the engine may use. */
export function backupOutcome(result: JobFinishedEvent, requestedPath: string): BackupOutcome {
  const d = result.details ?? {};
  const file = str(d.output) ?? str(d.file) ?? str(d.path) ?? (result.ok ? requestedPath : null);
  const fileSize = num(d.outputBytes) ?? num(d.fileSize) ?? num(d.outputSize);
  const ratio = num(d.compressionRatio) ?? (fileSize !== null && result.bytes > 0 ? fileSize / result.bytes : null);
  const sha256 = result.digests?.sha256 ?? str(d.sha256);
  return { file, fileSize, ratio, sha256 };
}

/** The file, its size, the ratio, the SHA-256, and "Show in folder". */
export function BackupResult({ result }: { result: JobFinishedEvent }) {
  const pathInput = useApp((s) => s.backup.pathInput);
  const revealRequested = useApp((s) => s.revealRequested);
  const notice = useApp((s) => s.backup.notice);
  if (!result.ok) return null;
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
      {o.file && (
        <button type="button" className="button" onClick={() => void revealRequested(o.file as string)}>
          Show in folder
        </button>
      )}
      {notice && <p className="note">{notice}</p>}
    </div>
  );
}
