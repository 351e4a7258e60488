import { useShallow } from 'zustand/react/shallow';
import { useApp } from '../store/store-context';
import { BackupSummary } from './backup-summary';

/** Step 1 of a restore: which backup, and what it says about itself. */
export function BackupStep() {
  const { pathInput, details, inspecting, error } = useApp(
    useShallow((s) => ({ pathInput: s.restore.pathInput, details: s.restore.details, inspecting: s.restore.inspecting, error: s.restore.error })),
  );
  const restorePathTyped = useApp((s) => s.restorePathTyped);
  const restorePathSubmitted = useApp((s) => s.restorePathSubmitted);
  const restoreChooseRequested = useApp((s) => s.restoreChooseRequested);
  return (
    <section className="card step" aria-labelledby="step-backup">
      <h2 id="step-backup">
        <span className="step-number">1</span> Backup
      </h2>
      <form
        className="path-form"
        onSubmit={(e) => {
          e.preventDefault();
          void restorePathSubmitted();
        }}
      >
        <label htmlFor="restore-path">Backup path</label>
        <div className="path-row">
          <input
            id="restore-path"
            type="text"
            spellCheck={false}
            autoComplete="off"
            placeholder="/home/me/backups/sdcard.img.zst"
            value={pathInput}
            onChange={(e) => restorePathTyped(e.target.value)}
          />
          <button type="submit" className="button" disabled={inspecting !== null}>
            Open
          </button>
          <button type="button" className="button" onClick={() => void restoreChooseRequested()}>
            Choose…
          </button>
        </div>
      </form>
      {inspecting && <p className="muted">Reading {inspecting}…</p>}
      {error && (
        <p role="alert" className="error">
          {error.message}
        </p>
      )}
      {details && <BackupSummary backup={details} />}
    </section>
  );
}
