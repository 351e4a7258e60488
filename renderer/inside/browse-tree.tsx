import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { formatBytes } from '../../shared/units';
import type { TreeRow } from './tree-rows';

/** A date as the tree shows it: local time, to the minute. */
function shortDate(ms: number | null): string {
  if (ms === null) return '';
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/**
 * The WAI-ARIA tree pattern, flat: every row is a treeitem with its level,
 * position and set size. One row is in the tab order (roving tabindex);
 * Up/Down/Home/End move, Right opens a folder or enters it, Left closes it
 * or goes to its parent, Space ticks or unticks, Enter opens or ticks.
 */
export function BrowseTree({ rows, selected, onToggle, onSelect }: { rows: TreeRow[]; selected: string[]; onToggle: (where: string) => void; onSelect: (where: string) => void }) {
  const [focus, setFocus] = useState(0);
  const listRef = useRef<HTMLUListElement>(null);
  const at = Math.min(focus, Math.max(0, rows.length - 1));
  const moved = useRef(false);
  /** The tree holds the keyboard focus (set on focus, cleared when focus goes to something else on the page). */
  const inside = useRef(false);
  useEffect(() => {
    // A folder's "Reading…" row is replaced by its entries when they arrive: if it had the focus, the
    // focus fell to the page, and a keyboard user would be lost. Give it to the row now at that place.
    const dropped = inside.current && (document.activeElement === null || document.activeElement === document.body);
    if (!moved.current && !dropped) return;
    moved.current = false;
    listRef.current?.querySelector<HTMLElement>(`[data-index="${at}"]`)?.focus();
  }, [at, rows]);
  const go = (i: number) => {
    moved.current = true;
    setFocus(Math.max(0, Math.min(rows.length - 1, i)));
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const row = rows[at];
    if (!row) return;
    const keys: Record<string, () => void> = {
      ArrowDown: () => go(at + 1),
      ArrowUp: () => go(at - 1),
      Home: () => go(0),
      End: () => go(rows.length - 1),
      ArrowRight: () => (row.expandable && !row.expanded ? onToggle(row.where) : row.expanded ? go(at + 1) : undefined),
      ArrowLeft: () => (row.expanded ? onToggle(row.where) : row.parent >= 0 ? go(row.parent) : undefined),
      ' ': () => (row.selectable ? onSelect(row.where) : undefined),
      Enter: () => (row.expandable ? onToggle(row.where) : row.selectable ? onSelect(row.where) : undefined),
    };
    const act = keys[e.key];
    if (!act) return;
    e.preventDefault();
    act();
  };
  return (
    <ul
      ref={listRef}
      role="tree"
      aria-label="Partitions and folders"
      aria-multiselectable="true"
      className="inside-tree"
      onKeyDown={onKeyDown}
      onFocus={() => (inside.current = true)}
      onBlur={(e) => {
        // relatedTarget null: the focused row was removed (or the window lost focus); the effect above decides.
        if (e.relatedTarget !== null && !listRef.current?.contains(e.relatedTarget as Node)) inside.current = false;
      }}
    >
      {rows.map((r, i) => {
        const ticked = selected.includes(r.where);
        return (
          <li
            key={r.where}
            role="treeitem"
            data-index={i}
            aria-level={r.level}
            aria-posinset={r.pos}
            aria-setsize={r.setSize}
            aria-expanded={r.expandable ? r.expanded : undefined}
            aria-selected={r.selectable ? ticked : undefined}
            aria-disabled={r.selectable || r.expandable ? undefined : true}
            tabIndex={i === at ? 0 : -1}
            className={`inside-row${ticked ? ' ticked' : ''}`}
            style={{ paddingInlineStart: `${(r.level - 1) * 1.25 + 0.25}rem` }}
            onClick={() => {
              setFocus(i);
              if (r.expandable) onToggle(r.where);
              else if (r.selectable) onSelect(r.where);
            }}
          >
            <span
              className="inside-mark"
              aria-hidden="true"
              onClick={(ev) => {
                // The box ticks a folder with the mouse; the row itself opens it. Space does it from the keyboard.
                if (!r.selectable) return;
                ev.stopPropagation();
                setFocus(i);
                onSelect(r.where);
              }}
            >
              {r.selectable ? (ticked ? '☑' : '☐') : ''} {r.expandable ? (r.expanded ? '▾' : '▸') : ' '}
            </span>
            <span className="inside-name">
              {r.label}
              {r.kind === 'directory' ? '/' : ''}
              {r.kind === 'symlink' ? ' (symlink)' : ''}
            </span>
            <span className="num muted inside-size">{r.size !== null ? formatBytes(r.size) : ''}</span>
            <span className="num muted inside-date">{shortDate(r.mtimeMs)}</span>
          </li>
        );
      })}
    </ul>
  );
}
