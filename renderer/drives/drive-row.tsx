import { formatBytes } from '../../shared/units';
import type { Refusal } from '../../shared/drive-constraints';
import type { DriveOption } from '../store/drive-options';
import { readableDescription } from './drive-names';
import { DriveBadges } from './drive-badges';
import { DrivePartitions } from './drive-partitions';

interface Props {
  option: DriveOption;
  kind: 'checkbox' | 'radio';
  group: string;
  checked: boolean;
  locked: boolean;
  onToggle(device: string): void;
}

/** The rule's reason, with sizes in units a person reads rather than raw byte counts. */
export function reasonText(refusal: Refusal, option: DriveOption): string {
  const { drive, needed } = option;
  if (refusal.code === 'E_TARGET_TOO_SMALL' && drive.size > 0 && needed !== null) {
    return `Too small: holds ${formatBytes(drive.size)}, needs ${formatBytes(needed)}.`;
  }
  return refusal.reason;
}

const idFor = (group: string, device: string) => `${group}-${device.replace(/[^a-zA-Z0-9]/g, '_')}`;

/**
 * One drive: its control is named by the device path, model and size; the
 * badges and any reason it is refused describe it (and are shown beside it).
 */
export function DriveRow({ option, kind, group, checked, locked, onToggle }: Props) {
  const { drive, refusals, warnings } = option;
  const id = idFor(group, drive.device);
  const refused = refusals.length > 0;
  const name = readableDescription(drive.description);
  const partitions = drive.partitions ?? [];
  return (
    <li className={`drive${checked ? ' is-checked' : ''}${refused ? ' is-refused' : ''}`}>
      <label className="drive-row">
        <input
          type={kind}
          name={group}
          checked={checked}
          disabled={refused || locked}
          aria-labelledby={`${id}-name ${id}-size`}
          aria-describedby={`${id}-badges${partitions.length > 0 ? ` ${id}-parts` : ''} ${id}-facts`}
          onChange={() => onToggle(drive.device)}
        />
        <span className="drive-text">
          <span id={`${id}-name`} className="drive-name">
            <span className="device">{drive.device}</span> {name && <span className="model">{name}</span>}
          </span>
          <span className="drive-meta">
            <span id={`${id}-size`} className="num">
              {formatBytes(drive.size)}
            </span>
            {drive.bus && drive.bus !== 'loop' && <span> · {drive.bus}</span>}
            {partitions.length === 0 && drive.mountpoints.length > 0 && <span className="mounts"> · mounted at {drive.mountpoints.join(', ')}</span>}
            <DriveBadges id={`${id}-badges`} option={option} />
          </span>
          <DrivePartitions id={`${id}-parts`} drive={drive.device} partitions={partitions} />
        </span>
      </label>
      <div id={`${id}-facts`} className="drive-facts">
        {refusals.map((r) => (
          <p key={r.code} className="reason">
            {reasonText(r, option)}
          </p>
        ))}
        {!refused && checked && warnings.map((w) => <p key={w} className="note">{w}</p>)}
      </div>
    </li>
  );
}
