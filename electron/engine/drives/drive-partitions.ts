import { execFile } from 'child_process';
import * as fs from 'fs';
import { promisify } from 'util';
import type { DrivePartition } from '../../../shared/drive';
import type { FilesystemInfo } from '../../../shared/backup-metadata';
import { probeFilesystem } from '../disks/filesystem-probe';
import { fileReader } from '../disks/drive-layout';

const execFileAsync = promisify(execFile);

/** One device of `lsblk --json --tree`, with the columns lsblkTree asks for. */
export interface LsblkNode {
  name: string;
  path: string;
  size: number | null;
  type: string;
  ro: boolean;
  rm: boolean;
  label?: string | null;
  fstype?: string | null;
  mountpoints?: (string | null)[];
  'log-sec'?: number | null;
  children?: LsblkNode[];
}

/** More partitions than this on one drive are left out of its row (an MBR holds 4 plus logical ones, a GPT usually 128 slots). */
const MAX_PARTITIONS = 128;
/** A label longer than this is cut: it comes from the medium, and a row has one line for it. */
const MAX_LABEL = 64;

/**
 * Every block device as lsblk sees it (Linux), partitions as children; [] when
 * lsblk is missing or fails. LABEL and FSTYPE come from udev's database: on a
 * machine without udev (containers, CI) they are null, and partitionsOf probes.
 */
export async function lsblkTree(): Promise<LsblkNode[]> {
  try {
    // No BACK-FILE column: lsblk before util-linux 2.39 (Debian 12's 2.38) rejects it and prints nothing.
    const { stdout } = await execFileAsync('lsblk', ['--json', '--bytes', '--tree', '-o', 'NAME,PATH,SIZE,TYPE,RO,RM,LABEL,FSTYPE,MOUNTPOINTS,LOG-SEC']);
    const parsed = JSON.parse(stdout) as { blockdevices?: LsblkNode[] };
    return Array.isArray(parsed.blockdevices) ? parsed.blockdevices : [];
  } catch {
    return [];
  }
}

/** The node's own mountpoints and those of what sits on it (an unlocked LUKS volume, an LVM volume). */
export function mountsUnder(node: LsblkNode): string[] {
  const own = (node.mountpoints ?? []).filter((m): m is string => typeof m === 'string' && m.length > 0);
  return own.concat(...(node.children ?? []).map(mountsUnder));
}

/**
 * The filesystem at the start of a device, read with O_DIRECT (the page cache
 * of a partition can predate a flash of its drive); null when none is
 * recognised or the device cannot be read (no permission, no medium).
 */
export function probeDevice(device: string, size: number): FilesystemInfo | null {
  let fd: number;
  try {
    fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    return probeFilesystem(fileReader(fd, size, true));
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

const cut = (label: string | null | undefined): string | null => (label ? label.slice(0, MAX_LABEL) : null);

/** One partition's entry: lsblk's filesystem and label when udev knew them, else what a probe of its first bytes finds. */
function entryOf(node: LsblkNode, probe: boolean): DrivePartition {
  const size = node.size ?? 0;
  let filesystem = node.fstype ?? null;
  let label = cut(node.label);
  if (filesystem === null && probe && size > 0) {
    const found = probeDevice(node.path, size);
    filesystem = found?.type ?? null;
    label = cut(found?.label);
  }
  return { device: node.path, size, filesystem, label, mountpoints: mountsUnder(node) };
}

/**
 * What a drive row shows of the drive's contents: each partition with its
 * filesystem, label and mountpoints; or, with no partitions, the filesystem
 * filling the whole drive, if any. `probe` false skips reading the device (a
 * running job holds it: even a brief open makes a partition table re-read fail).
 */
export function partitionsOf(disk: LsblkNode, probe: boolean): DrivePartition[] {
  const parts = (disk.children ?? []).filter((c) => c.type === 'part').slice(0, MAX_PARTITIONS);
  if (parts.length > 0) return parts.map((p) => entryOf(p, probe));
  const whole = entryOf({ ...disk, children: [] }, probe);
  return whole.filesystem ? [whole] : [];
}
