import * as fs from 'fs';
import { execFile } from 'child_process';
import { promisify } from 'util';
import { ImprintError } from '../errors';
import { blockDeviceSize, logicalBlockSize } from '../io/block-device';

const execFileAsync = promisify(execFile);

/** Facts about a drive being read whole (backup, clone), gathered before reading. */
export interface SourceDrive {
  device: string;
  size: number;
  logicalBlockSize: number;
  model: string | null;
  serial: string | null;
  /** Mountpoints of the drive or its partitions that are mounted read-write. */
  writableMounts: string[];
}

interface LsblkNode {
  path?: string;
  model?: string | null;
  serial?: string | null;
  mountpoints?: (string | null)[];
  children?: LsblkNode[];
}

/** Mount options by mountpoint, from the kernel's own table (lsblk does not say read-only vs read-write). */
function mountOptions(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  try {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [, mp, , opts] = line.split(' ');
      if (mp && opts) map.set(mp.replace(/\\040/g, ' '), opts.split(','));
    }
  } catch {
    // No /proc: nothing known to be mounted.
  }
  return map;
}

function allMounts(node: LsblkNode): string[] {
  const own = (node.mountpoints ?? []).filter((m): m is string => typeof m === 'string' && m.length > 0);
  return own.concat(...(node.children ?? []).map(allMounts));
}

/**
 * Resolves a drive to back up or clone. Refuses anything that is not a block
 * device (a file is already an image: flash or copy it instead).
 */
export async function inspectSourceDrive(device: string): Promise<SourceDrive> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(device);
  } catch {
    throw new ImprintError('E_SOURCE_NOT_FOUND', `${device} does not exist: is the drive plugged in?`);
  }
  if (!stat.isBlockDevice()) {
    throw new ImprintError('E_BAD_ARGUMENTS', `${device} is not a drive. Back up and clone read drives (/dev/sdX, /dev/mmcblkN, /dev/loopN); to copy an image file, use imprint flash.`);
  }
  const size = blockDeviceSize(device);
  if (size === 0) throw new ImprintError('E_SOURCE_EMPTY', `${device} reports a size of 0: no medium inserted?`);
  let model: string | null = null;
  let serial: string | null = null;
  let mounts: string[] = [];
  try {
    const { stdout } = await execFileAsync('lsblk', ['--json', '-o', 'PATH,MODEL,SERIAL,MOUNTPOINTS', device]);
    // The drive comes first, then its partitions (as children, or as a flat list when no tree is printed).
    const nodes = (JSON.parse(stdout) as { blockdevices: LsblkNode[] }).blockdevices;
    const node = nodes[0];
    if (node) {
      model = node.model?.trim() || null;
      serial = node.serial?.trim() || null;
    }
    mounts = nodes.flatMap(allMounts);
  } catch {
    // lsblk missing or unable to describe the device: model and serial stay unknown.
  }
  const options = mountOptions();
  const writableMounts = mounts.filter((mp) => !(options.get(mp) ?? ['rw']).includes('ro'));
  return { device, size, logicalBlockSize: logicalBlockSize(device), model, serial, writableMounts };
}

/** The warning shown before reading a drive with partitions mounted read-write. */
export function mountedWarning(drive: SourceDrive): string {
  return `${drive.device} has partitions mounted read-write (${drive.writableMounts.join(', ')}): files may change while it is read, so the image may be inconsistent. Unmount them first (umount ${drive.writableMounts.join(' ')}) for a clean copy.`;
}
