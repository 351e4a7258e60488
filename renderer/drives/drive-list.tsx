import type { DriveOption } from '../store/drive-options';
import { useApp } from '../store/store-context';
import { DriveRow } from './drive-row';
import { ShowAllDrives } from './show-all-drives';

interface Props {
  legend: string;
  kind: 'checkbox' | 'radio';
  group: string;
  options: DriveOption[];
  selected: readonly string[];
  onToggle(device: string): void;
  /** The drives will be written (flash, restore) or read (backup): the warnings differ. */
  use: 'write' | 'read';
  /** No changes while a job runs. */
  locked?: boolean;
}

/** A list of drives to choose from, with "Show all drives" below it. */
export function DriveList({ legend, kind, group, options, selected, onToggle, use, locked = false }: Props) {
  const loaded = useApp((s) => s.drives.loaded);
  const error = useApp((s) => s.drives.error);
  return (
    <fieldset className="drive-fieldset">
      <legend className="visually-hidden">{legend}</legend>
      {error && <p role="alert" className="error">Could not list drives: {error.message}</p>}
      {!loaded && !error && <p className="muted">Looking for drives…</p>}
      {loaded && options.length === 0 && <p className="muted">No drives found. Plug one in; it appears here by itself.</p>}
      <ul className="drive-list" aria-label={legend}>
        {options.map((o) => (
          <DriveRow
            key={o.drive.device}
            option={o}
            kind={kind}
            group={group}
            checked={selected.includes(o.drive.device)}
            locked={locked}
            onToggle={onToggle}
          />
        ))}
      </ul>
      <ShowAllDrives use={use} />
    </fieldset>
  );
}
