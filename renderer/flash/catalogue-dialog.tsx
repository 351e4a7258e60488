import { useEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { CatalogueItemView } from '../../shared/web-source';
import { useApp } from '../store/store-context';
import { CatalogueItem } from './catalogue-item';

/**
 * "Choose OS": a catalogue's folders and images, searchable across every
 * folder. The service fetched the list and its icons when this opened (not
 * before); the page only shows what it was handed.
 */
export function CatalogueDialog() {
  const c = useApp(useShallow((s) => s.web.catalogue));
  const a = useApp(
    useShallow((s) => ({
      folderOpened: s.catalogueFolderOpened,
      searchTyped: s.catalogueSearchTyped,
      sourceChosen: s.catalogueSourceChosen,
      entryChosen: s.catalogueEntryChosen,
      closed: s.webDialogClosed,
    })),
  );
  const ref = useRef<HTMLDialogElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    searchRef.current?.focus();
    return () => dialog?.close();
  }, []);
  const listing = c.listing;
  const searching = c.search.trim() !== '';
  const open = (item: CatalogueItemView) => (item.kind === 'folder' ? void a.folderOpened([...item.folder, item.name]) : a.entryChosen(item));
  return (
    <dialog
      ref={ref}
      className="dialog catalogue"
      aria-labelledby="catalogue-title"
      onCancel={(e) => {
        e.preventDefault();
        a.closed();
      }}
    >
      <h2 id="catalogue-title">Choose an operating system</h2>
      {listing && listing.sources.length > 1 && (
        <div className="catalogue-source">
          <label htmlFor="catalogue-source">Catalogue</label>
          <select id="catalogue-source" value={listing.source} onChange={(e) => void a.sourceChosen(e.target.value)}>
            {listing.sources.map((s) => (
              <option key={s.source} value={s.source}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
      )}
      <label htmlFor="catalogue-search">Search</label>
      <input
        ref={searchRef}
        id="catalogue-search"
        type="search"
        spellCheck={false}
        autoComplete="off"
        placeholder="e.g. lite 64-bit"
        value={c.search}
        onChange={(e) => void a.searchTyped(e.target.value)}
      />
      {!searching && c.folder.length > 0 && (
        <nav aria-label="Folder" className="catalogue-path">
          <button type="button" className="button" onClick={() => void a.folderOpened(c.folder.slice(0, -1))}>
            ← Back
          </button>
          <span className="muted">{c.folder.join(' / ')}</span>
        </nav>
      )}
      {c.error && (
        <p role="alert" className="error">
          {c.error}
        </p>
      )}
      <p className="muted small" aria-live="polite">
        {c.loading ? 'Loading the catalogue…' : listing ? summary(listing.items.length, searching, listing.truncated) : ''}
      </p>
      {listing && (
        <ul className="catalogue-list" aria-label={searching ? 'Search results' : c.folder.length > 0 ? `In ${c.folder.join(' / ')}` : 'Catalogue'}>
          {listing.items.map((item) => (
            <CatalogueItem key={item.kind === 'image' ? item.id : `folder:${item.name}`} item={item} showFolder={searching} onOpen={open} />
          ))}
        </ul>
      )}
      {listing && listing.problems.length > 0 && (
        <details className="catalogue-problems">
          <summary>{listing.problems.length === 1 ? '1 entry' : `${listing.problems.length} entries`} left out: the catalogue got them wrong</summary>
          <ul>
            {listing.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      )}
      <div className="actions">
        <button type="button" className="button" onClick={a.closed}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

function summary(count: number, searching: boolean, truncated: boolean): string {
  if (count === 0) return searching ? 'Nothing matches: try fewer words.' : 'This folder is empty.';
  if (truncated) return `The first ${count} matches; add words to narrow them.`;
  return searching ? `${count} ${count === 1 ? 'match' : 'matches'}` : `${count} ${count === 1 ? 'entry' : 'entries'}`;
}
