import { useMemo } from 'react';
import { hiddenCount } from '../store/drive-options';
import { useApp } from '../store/store-context';

/** The "Show all drives" switch: system drives and loop devices stay hidden unless asked for. */
export function ShowAllDrives({ use }: { use: 'write' | 'read' }) {
  const showAll = useApp((s) => s.drives.showAll);
  const list = useApp((s) => s.drives.list);
  const showAllToggled = useApp((s) => s.showAllToggled);
  const hidden = useMemo(() => hiddenCount(list), [list]);
  return (
    <div className="show-all">
      <label className="check">
        <input type="checkbox" checked={showAll} onChange={showAllToggled} />
        Show all drives
      </label>
      {!showAll && hidden > 0 && (
        <span className="muted">
          {' '}
          ({hidden} hidden: system drives and loop devices)
        </span>
      )}
      {showAll && (
        <p className="warning" role="note">
          {use === 'write'
            ? 'System drives and loop devices are listed. Writing the wrong drive destroys its data; Imprint still refuses the drive the system runs from.'
            : 'System drives and loop devices are listed. A drive in use while it is read may give an inconsistent backup.'}
        </p>
      )}
    </div>
  );
}
