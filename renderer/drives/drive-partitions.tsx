import type { Drive, DrivePartition } from '../../shared/drive';
import { formatBytes } from '../../shared/units';

/** "loop3p1" for `/dev/loop3p1`; "whole drive" for a filesystem on the drive itself. */
function partName(part: DrivePartition, drive: string): string {
  return part.device === drive ? 'whole drive' : (part.device.split('/').pop() ?? part.device);
}

/**
 * What is on a drive, in the names its owner gave it: each partition's label,
 * filesystem, size and mount points. Two sticks of the same model and size
 * differ here ("BOOT" and "rootfs" against "PHOTOS").
 */
export function DrivePartitions({ id, drive, partitions }: { id: string; drive: string; partitions: readonly DrivePartition[] }) {
  if (partitions.length === 0) return null;
  return (
    // Spans, not a list: this sits inside the drive's <label>, which takes phrasing content only.
    <span id={id} className="drive-parts">
      {partitions.map((p) => (
        <span key={p.device} className="part">
          <span className="part-name">{partName(p, drive)}</span>{' '}
          {p.label && (
            <>
              <strong className="part-label">&ldquo;{p.label}&rdquo;</strong>{' '}
            </>
          )}
          <span>{p.filesystem ?? 'unformatted or unknown'}</span> <span className="num">{formatBytes(p.size)}</span>
          {p.mountpoints.length > 0 && <span className="mounts"> · mounted at {p.mountpoints.join(', ')}</span>}
        </span>
      ))}
    </span>
  );
}

/** The labels the drive holds now, for the erase confirmation: the last look at what will be lost. */
export function HeldLabels({ drive }: { drive: Drive }) {
  const labels = (drive.partitions ?? []).map((p) => p.label).filter((l): l is string => l !== null);
  if (labels.length === 0) return null;
  return <span className="muted"> · holds {labels.map((l) => `“${l}”`).join(', ')}</span>;
}
