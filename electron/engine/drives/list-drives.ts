import { execFile } from 'child_process';
import { promisify } from 'util';
import * as fs from 'fs';
import type { Drive } from '../../../shared/drive';
import { compareDrives } from '../../../shared/drive-constraints';
import { systemDisks } from './system-drive';

const execFileAsync = promisify(execFile);

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

interface LsblkDevice {
  name: string;
  path: string;
  size: number | null;
  type: string;
  ro: boolean;
  rm: boolean;
  mountpoints?: (string | null)[];
  'log-sec'?: number | null;
  children?: LsblkDevice[];
}

/**
 * Every drive the OS knows, via drivelist, plus loop devices, which drivelist
 * leaves out (they are how people attach image files, and how the tests make
 * real drives). Sorted removable first. System drives are marked by drivelist
 * and, independently, by what holds `/` and friends on this machine.
 */
export async function listDrives(): Promise<Drive[]> {
  const drivelist = (await import('drivelist')) as unknown as { list(): Promise<DrivelistDrive[]> };
  const system = systemDisks();
  // Both run lsblk: at once, not one after the other (every flash starts with this).
  const [found, loops] = await Promise.all([drivelist.list(), process.platform === 'linux' ? listLoopDevices() : Promise.resolve([])]);
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
  for (const loop of loops) {
    if (!drives.some((d) => d.device === loop.device)) drives.push({ ...loop, system: loop.system || system.has(loop.device) });
  }
  return drives.sort(compareDrives);
}

function flattenMounts(dev: LsblkDevice): string[] {
  const own = (dev.mountpoints ?? []).filter((m): m is string => typeof m === 'string' && m.length > 0);
  return own.concat(...(dev.children ?? []).map(flattenMounts));
}

/** Attached loop devices (size > 0), from lsblk. */
export async function listLoopDevices(): Promise<Drive[]> {
  let out: string;
  try {
    // No BACK-FILE column: lsblk before util-linux 2.39 (Debian 12's 2.38) rejects it and prints nothing.
    ({ stdout: out } = await execFileAsync('lsblk', ['--json', '--bytes', '--tree', '-o', 'NAME,PATH,SIZE,TYPE,RO,RM,MOUNTPOINTS,LOG-SEC']));
  } catch {
    return [];
  }
  const parsed = JSON.parse(out) as { blockdevices: LsblkDevice[] };
  return parsed.blockdevices
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
        mountpoints: flattenMounts(d),
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
  const drives = await listDrives();
  return drives.find((d) => d.device === real || d.device === device) ?? null;
}
