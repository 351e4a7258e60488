import type { StorageSummary } from '../../shared/backup-metadata';
import { formatBytes } from '../../shared/units';
import { useApp } from '../store/store-context';

/** Smart or every sector: the choice, and the one sentence that tells them apart. */
export function BackupModeChoice() {
  const sectorBySector = useApp((s) => s.backup.sectorBySector);
  const backupModeChosen = useApp((s) => s.backupModeChosen);
  return (
    <fieldset className="mode-choice">
      <legend>What to store</legend>
      <label className="check">
        <input type="radio" name="backup-mode" checked={!sectorBySector} onChange={() => backupModeChosen(false)} />
        Smart (only what the filesystems use)
      </label>
      <label className="check">
        <input type="radio" name="backup-mode" checked={sectorBySector} onChange={() => backupModeChosen(true)} />
        Every sector (forensics, or a filesystem you do not trust)
      </label>
      <p className="muted small tight">
        Smart skips the free space of the filesystems Imprint can read, so it is faster and smaller; every sector copies the whole drive, deleted files included.
      </p>
    </fieldset>
  );
}

function storedText(p: StorageSummary['partitions'][number]): string {
  return p.stored === 'used-blocks' ? 'used blocks' : `whole: ${p.reason ?? 'every sector chosen'}`;
}

/** Per partition: filesystem, size, used, and what the backup will store; then the total to read. */
export function BackupPlanTable() {
  const source = useApp((s) => s.backup.source);
  const plan = useApp((s) => s.backup.plan);
  if (!source || !plan || plan.device !== source) return null;
  if (plan.status === 'needs-admin') return <p className="muted small">What each partition uses can be shown only with administrator rights; the backup will ask for them.</p>;
  if (plan.status === 'failed') return <p className="muted small">Could not read what the partitions use: {plan.error}</p>;
  const summary = plan.summary;
  if (!summary) return <p className="muted small">Reading what the partitions of {source} use…</p>;
  return (
    <div className="plan">
      <table className="plan-table" aria-label="What the backup will store">
        <thead>
          <tr>
            <th scope="col">Partition</th>
            <th scope="col">Filesystem</th>
            <th scope="col">Size</th>
            <th scope="col">Used</th>
            <th scope="col">Stored</th>
          </tr>
        </thead>
        <tbody>
          {summary.partitions.map((p) => (
            <tr key={p.number}>
              <td className="num">{p.number}</td>
              <td>{p.filesystem ?? 'none recognised'}</td>
              <td className="num">{formatBytes(p.size)}</td>
              <td className="num">{p.usedBytes === null ? '—' : formatBytes(p.usedBytes)}</td>
              <td>{storedText(p)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="small">
        To be read: <span className="num">{formatBytes(summary.storedBytes)}</span>
        {summary.mode === 'used-blocks' ? ' (partition tables and gaps included)' : ' (every sector)'}
      </p>
    </div>
  );
}

/** Bytes each partition uses, by number, for the drive map; empty when the plan is not for this drive. */
export function useUsedBytes(device: string | null): Readonly<Record<number, number | null>> | undefined {
  const plan = useApp((s) => s.backup.plan);
  if (!device || plan?.device !== device || !plan.summary) return undefined;
  return Object.fromEntries(plan.summary.partitions.map((p) => [p.number, p.usedBytes]));
}
