import { useShallow } from 'zustand/react/shallow';
import { COMPRESSIONS, backupBlocker, type Compression } from '../store/backup-slice';
import { useApp } from '../store/store-context';

const COMPRESSION_LABEL: Record<Compression, string> = {
  zstd: 'zstd (fast, small; recommended)',
  gzip: 'gzip (opens anywhere)',
  xz: 'xz (smallest, slow)',
  none: 'none (raw image, sparse file)',
};

/** Step 2 and 3 of a backup: where to, how compressed, and the button. */
export function BackupForm() {
  const { pathInput, compression, overwrite, notice } = useApp(
    useShallow((s) => ({ pathInput: s.backup.pathInput, compression: s.backup.compression, overwrite: s.backup.overwrite, notice: s.backup.notice })),
  );
  const blocker = useApp(backupBlocker);
  const a = useApp(
    useShallow((s) => ({
      backupPathTyped: s.backupPathTyped,
      backupPathChooseRequested: s.backupPathChooseRequested,
      compressionChosen: s.compressionChosen,
      overwriteToggled: s.overwriteToggled,
      backupRequested: s.backupRequested,
    })),
  );
  return (
    <section className="card step" aria-labelledby="step-destination">
      <h2 id="step-destination">
        <span className="step-number">2</span> Destination
      </h2>
      <form
        className="path-form"
        onSubmit={(e) => {
          e.preventDefault();
          void a.backupRequested();
        }}
      >
        <label htmlFor="backup-path">Backup path</label>
        <div className="path-row">
          <input
            id="backup-path"
            type="text"
            spellCheck={false}
            autoComplete="off"
            placeholder="/home/me/backups/sdcard.img.zst"
            value={pathInput}
            onChange={(e) => a.backupPathTyped(e.target.value)}
          />
          <button type="button" className="button" onClick={() => void a.backupPathChooseRequested()}>
            Choose…
          </button>
        </div>
        <label htmlFor="compression">Compression</label>
        <select id="compression" value={compression} onChange={(e) => a.compressionChosen(e.target.value as Compression)}>
          {COMPRESSIONS.map((c) => (
            <option key={c} value={c}>
              {COMPRESSION_LABEL[c]}
            </option>
          ))}
        </select>
        <label className="check">
          <input type="checkbox" checked={overwrite} onChange={a.overwriteToggled} />
          Replace the file if it exists
        </label>
        {notice && <p className="note">{notice}</p>}
        <p className="muted small">{blocker ?? 'The drive is only read. The backup is checked after writing.'}</p>
        <button type="submit" className="button primary big" disabled={blocker !== null}>
          Back up
        </button>
      </form>
    </section>
  );
}
