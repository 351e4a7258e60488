import { useEffect, useMemo, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../../shared/units';
import { useApp } from '../store/store-context';
import { BrowseTree } from './browse-tree';
import { treeRows } from './tree-rows';

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * "Browse files": the inside of the chosen image or backup, read-only. A
 * tree of partitions and folders with sizes and dates; ticked files and
 * folders are copied into a folder ("Extract to…"), with progress. The
 * folder is typed, or chosen in the system's dialog's stand-in (browser mode).
 */
export function BrowseFilesDialog() {
  const inside = useApp((s) => s.inside);
  const a = useApp(
    useShallow((s) => ({
      closed: s.insideClosed,
      toggled: s.insideToggled,
      selected: s.insideSelected,
      destTyped: s.insideDestTyped,
      extract: s.insideExtractRequested,
      chooseFolder: s.browseOpened,
    })),
  );
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  const rows = useMemo(() => treeRows(inside), [inside]);
  const { extract } = inside;
  const name = inside.source?.split(/[\\/]/).pop() ?? '';
  const fraction = extract.totalBytes ? Math.min(1, extract.bytesDone / extract.totalBytes) : null;
  return (
    <dialog
      ref={ref}
      className="dialog inside-dialog"
      aria-labelledby="inside-title"
      onCancel={(e) => {
        e.preventDefault();
        if (!extract.running) a.closed();
      }}
    >
      <h2 id="inside-title">Files in {name}</h2>
      <p className="muted">Read-only: nothing is written to {name}. Tick files or folders (Space), open folders (Right arrow or click).</p>
      {inside.error && (
        <p role="alert" className="error">
          {inside.error}
        </p>
      )}
      {!inside.partitions && !inside.error && <p className="muted">Reading…</p>}
      {inside.partitions && <BrowseTree rows={rows} selected={inside.selected} onToggle={(w) => void a.toggled(w)} onSelect={a.selected} />}
      <form
        className="path-row"
        onSubmit={(e) => {
          e.preventDefault();
          void a.extract();
        }}
      >
        <label htmlFor="inside-dest">Extract to folder</label>
        <input id="inside-dest" type="text" spellCheck={false} autoComplete="off" value={inside.dest} placeholder="/home/me/restored" onChange={(e) => a.destTyped(e.target.value)} />
        <button type="button" className="button" onClick={() => void a.chooseFolder('extract-folder', inside.dest || '/')}>
          Choose folder…
        </button>
        <button type="submit" className="button primary" disabled={inside.selected.length === 0 || extract.running}>
          Extract {inside.selected.length > 0 ? `${inside.selected.length} selected` : ''} to…
        </button>
      </form>
      {(extract.running || extract.details) && (
        <div aria-live="polite">
          <progress className="inside-progress" aria-label="Extraction progress" max={1} value={fraction ?? undefined} />
          <p className="muted">
            {extract.running
              ? `Copying… ${formatBytes(extract.bytesDone)}${extract.totalBytes !== null ? ` of ${formatBytes(extract.totalBytes)}` : ''}`
              : extract.details &&
                `Extracted ${count(extract.details.files, 'file')} and ${count(extract.details.folders, 'folder')} (${formatBytes(extract.details.bytes)}) into ${extract.details.dest}${extract.details.problemCount ? `; ${extract.details.problemCount} skipped or not read:` : '.'}`}
          </p>
          {extract.details && extract.details.problems.length > 0 && (
            <ul className="inside-problems" aria-label="Not extracted">
              {extract.details.problems.map((p) => (
                <li key={p.path}>
                  {p.path}: {p.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {extract.error && (
        <p role="alert" className="error">
          {extract.error}
        </p>
      )}
      <div className="actions">
        <button type="button" className="button" onClick={a.closed} disabled={extract.running}>
          Close
        </button>
      </div>
    </dialog>
  );
}

/** "Browse files" for an image or backup that has been inspected; `unlock`: an encrypted folder's handle, for its generation. */
export function BrowseFilesButton({ source, unlock = null }: { source: string; unlock?: string | null }) {
  const opened = useApp((s) => s.insideOpened);
  return (
    <button type="button" className="button" onClick={() => void opened(source, unlock)}>
      Browse files
    </button>
  );
}
