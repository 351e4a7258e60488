import { isLarge } from '../../shared/drive-constraints';
import type { DriveOption } from '../store/drive-options';

interface Badge {
  label: string;
  tone: 'info' | 'warn' | 'danger';
}

/** The short facts a person scans for: what kind of drive, and why it may not be used. */
export function badgesFor(option: DriveOption): Badge[] {
  const { drive, refusals } = option;
  const has = (code: string) => refusals.some((r) => r.code === code);
  const out: Badge[] = [];
  if (has('E_TARGET_BUSY')) out.push({ label: 'in use', tone: 'warn' });
  if (drive.removable) out.push({ label: 'removable', tone: 'info' });
  if (drive.virtual) out.push({ label: 'loop device', tone: 'info' });
  if (drive.system) out.push({ label: 'system', tone: 'danger' });
  if (drive.readOnly) out.push({ label: 'read-only', tone: 'warn' });
  if (has('E_TARGET_TOO_SMALL')) out.push({ label: 'too small', tone: 'warn' });
  if (has('E_TARGET_HOLDS_SOURCE')) out.push({ label: option.use === 'read' ? 'holds the destination' : 'holds the image', tone: 'danger' });
  if (isLarge(drive)) out.push({ label: 'over 128 GB', tone: 'warn' });
  return out;
}

/** The badges, in a span with `id` so the drive's control can be described by them. */
export function DriveBadges({ id, option }: { id: string; option: DriveOption }) {
  const badges = badgesFor(option);
  return (
    <span id={id} className="badges">
      {badges.map((b) => (
        <span key={b.label} className={`badge badge-${b.tone}`}>
          {b.label}
        </span>
      ))}
    </span>
  );
}
