import { useEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../../shared/units';
import { choosesFolder, type BrowseFor } from '../store/browse-slice';
import { useApp } from '../store/store-context';

const TITLES: Record<BrowseFor, string> = {
  image: 'Choose an image',
  backup: 'Choose a backup',
  'extract-folder': 'Choose a folder to extract into',
  'backup-folder': 'Choose a folder to back up into',
  'restore-folder': 'Choose a backup folder',
};

/**
 * Browser mode's stand-in for the system's open dialog: the folders and
 * files the service lists (what the user may read), a folder field to jump,
 * Up, and a file button per file. Modal; Escape closes; focus starts on the
 * first entry so arrow-free Tab and Enter pick a file.
 */
export function FileBrowserDialog() {
  const { what, listing, loading, error, folderInput } = useApp(
    useShallow((s) => ({ what: s.browse.for, listing: s.browse.listing, loading: s.browse.loading, error: s.browse.error, folderInput: s.browse.folderInput })),
  );
  const a = useApp(
    useShallow((s) => ({ opened: s.browseFolderOpened, typed: s.browseFolderTyped, chosen: s.browseFileChosen, used: s.browseFolderUsed, closed: s.browseClosed })),
  );
  const ref = useRef<HTMLDialogElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  useEffect(() => {
    listRef.current?.querySelector<HTMLButtonElement>('button')?.focus();
  }, [listing]);
  const folderOnly = choosesFolder(what);
  const title = TITLES[what ?? 'image'];
  return (
    <dialog
      ref={ref}
      className="dialog file-browser"
      aria-labelledby="browse-title"
      onCancel={(e) => {
        e.preventDefault();
        a.closed();
      }}
    >
      <h2 id="browse-title">{title}</h2>
      <form
        className="path-row"
        onSubmit={(e) => {
          e.preventDefault();
          void a.opened(folderInput.trim() || '/');
        }}
      >
        <label htmlFor="browse-folder" className="visually-hidden">
          Folder
        </label>
        <input id="browse-folder" type="text" spellCheck={false} autoComplete="off" value={folderInput} onChange={(e) => a.typed(e.target.value)} />
        <button type="submit" className="button">
          Open folder
        </button>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {loading && <p className="muted">Reading…</p>}
      {listing && (
        <ul ref={listRef} className="browse-list" aria-label={`In ${listing.path}`}>
          {listing.parent !== null && (
            <li>
              <button type="button" className="browse-entry" onClick={() => void a.opened(listing.parent as string)}>
                ↑ Up to {listing.parent}
              </button>
            </li>
          )}
          {listing.entries.filter((e) => !folderOnly || e.folder).map((e) => (
            <li key={e.name}>
              <button
                type="button"
                className="browse-entry"
                onClick={() => void (e.folder ? a.opened(`${listing.path === '/' ? '' : listing.path}/${e.name}`) : a.chosen(e.name))}
              >
                <span className="browse-name">{e.folder ? `${e.name}/` : e.name}</span>
                {e.size !== null && <span className="num muted">{formatBytes(e.size)}</span>}
              </button>
            </li>
          ))}
          {listing.entries.length === 0 && <li className="muted">Nothing here you may open.</li>}
          {listing.truncated && <li className="muted">More entries than can be listed: type the path instead.</li>}
        </ul>
      )}
      <div className="actions">
        {folderOnly && listing && (
          <button type="button" className="button primary" onClick={a.used}>
            Use this folder
          </button>
        )}
        <button type="button" className="button" onClick={a.closed}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
