import * as fs from 'fs';
import type { Drive } from '../../../shared/drive';
import { compareDrives } from '../../../shared/drive-constraints';
import { lsblkTree, mountsUnder, partitionsOf, type LsblkNode } from './drive-partitions';
import { systemDisks } from './system-drive';

interface DrivelistDrive {
  device: string;
  raw?: string;
  description?: string;
  size: number | null;
  logicalBlockSize?: number;
  busType?: string;
  isReadOnly: boolean;
  isSystem: boolean;
  isVirtual: boolean;
  isRemovable: boolean;
  isUSB?: boolean | null;
  mountpoints: { path: string }[];
}

/**
 * Every drive the OS knows, via drivelist, plus loop devices, which drivelist
 * leaves out (they are how people attach image files, and how the tests make
 * real drives). Sorted removable first. System drives are marked by drivelist
 * and, independently, by what holds `/` and friends on this machine.
 */
export async function listDrives(opts: ListDrivesOptions = {}): Promise<Drive[]> {
  const drivelist = (await import('drivelist')) as unknown as { list(): Promise<DrivelistDrive[]> };
  const system = systemDisks();
  // Both run lsblk: at once, not one after the other (every flash starts with this).
  const [found, tree] = await Promise.all([drivelist.list(), process.platform === 'linux' ? lsblkTree() : Promise.resolve([])]);
  const drives: Drive[] = found.map((d) => ({
    device: d.device,
    size: d.size ?? 0,
    description: d.description?.trim() || 'Unknown drive',
    bus: d.busType && d.busType !== 'UNKNOWN' ? d.busType.toLowerCase() : d.isUSB ? 'usb' : null,
    removable: d.isRemovable && !d.isVirtual,
    readOnly: d.isReadOnly,
    system: d.isSystem || system.has(d.device),
    virtual: d.isVirtual,
    mountpoints: d.mountpoints.map((m) => m.path),
    blockSize: d.logicalBlockSize ?? 512,
  }));
  for (const loop of loopDevices(tree)) {
    if (!drives.some((d) => d.device === loop.device)) drives.push({ ...loop, system: loop.system || system.has(loop.device) });
  }
  const nodes = new Map(opts.partitions === false ? [] : tree.map((n) => [n.path, n]));
  for (const drive of drives) {
    const node = nodes.get(drive.device);
    if (node) drive.partitions = partitionsOf(node, !opts.inUse?.has(drive.device));
  }
  return drives.sort(compareDrives);
}

export interface ListDrivesOptions {
  /** Drives a running job holds: their partitions are not probed (see partitionsOf). */
  inUse?: ReadonlySet<string>;
  /** false: leave `partitions` out, and read no device (a job looking up its target needs none of it). */
  partitions?: boolean;
}

/** Attached loop devices (size > 0), from lsblk's tree. */
export function loopDevices(tree: readonly LsblkNode[]): Drive[] {
  return tree
    .filter((d) => d.type === 'loop' && (d.size ?? 0) > 0)
    .map((d) => {
      const backing = loopBackingFile(d.name);
      return {
        device: d.path,
        size: d.size ?? 0,
        description: backing ? `Loop device over ${backing}` : 'Loop device',
        bus: 'loop',
        removable: false,
        readOnly: d.ro,
        system: false,
        virtual: true,
        mountpoints: mountsUnder(d),
        blockSize: d['log-sec'] ?? 512,
      };
    });
}

/** The file behind a loop device, from sysfs (works with every lsblk version). */
function loopBackingFile(name: string): string | null {
  try {
    return fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** The drive at `device`, looked up fresh, or null when the OS does not list it. */
export async function findDrive(device: string): Promise<Drive | null> {
  let real = device;
  try {
    real = fs.realpathSync(device);
  } catch {
    return null;
  }
  // No partitions: a job looking up its drive must not open another job's drive (see partitionsOf).
  const drives = await listDrives({ partitions: false });
  return drives.find((d) => d.device === real || d.device === device) ?? null;
}
