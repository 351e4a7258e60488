import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { MBR_TYPE_FOR } from '../../../shared/format-rules';
import { ImprintError } from '../errors';
import { readFully, writeFully, fsyncChecked } from '../io/full-io';
import { parsePartitionTable } from '../disks/partition-table';
import type { FormatOutcome, FormatSpec } from './format-spec';

/** The partition starts here, as every current partitioning tool aligns it (and as Windows does). */
export const PARTITION_START = 1 << 20;
/** Zeroed at both ends: covers the MBR, a GPT's header and entries (first 34 sectors), its backup (last 33), ISO 9660's descriptors at 32 KiB. */
const EDGE_BYTES = 1 << 20;
/** Old partitions whose first MiB is zeroed too (their superblocks), at most this many (a damaged table lists garbage). */
const MAX_OLD_PARTITIONS = 128;
/** Owned here: each tool (wipefs, sfdisk, partx, mkfs) ends in seconds on a working drive; a minute means a hung one. */
const TOOL_TIMEOUT_MS = 60_000;
/** Owned here: how long the kernel (devtmpfs or udev) gets to show the new partition's node. */
const PARTITION_NODE_WAIT_MS = 5_000;

function run(cmd: string, args: string[], signal: AbortSignal | undefined, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { signal, timeout: TOOL_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if (signal?.aborted) return reject(new ImprintError('E_CANCELLED', 'Cancelled.', { cause: err }));
      const detail = (stderr || (err as Error).message).trim().split('\n').slice(-3).join(' ');
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new ImprintError('E_INTERNAL', `${cmd} is not installed: formatting needs it (util-linux, dosfstools, exfatprogs).`, { cause: err }));
      }
      reject(new ImprintError('E_WRITE', `${cmd} failed: ${detail}`, { cause: err }));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Zeroes `length` bytes at `offset` and checks fsync. */
function zeroRange(fd: number, offset: number, length: number): void {
  const zeros = Buffer.alloc(Math.min(length, EDGE_BYTES));
  for (let done = 0; done < length; done += zeros.length) writeFully(fd, zeros.subarray(0, Math.min(zeros.length, length - done)), offset + done);
}

/**
 * Clears what wipefs leaves: the first and last MiB of the drive, and the
 * first MiB of every partition the old table lists (an old filesystem there
 * would otherwise show through the new partition until mkfs overwrites it).
 */
function zeroOldStructures(device: string, size: number): void {
  const fd = fs.openSync(device, 'r+');
  try {
    const head = Buffer.alloc(EDGE_BYTES);
    const got = readFully(fd, head, 0, head.length, 0);
    const table = parsePartitionTable((offset, length) => (offset >= got ? null : head.subarray(offset, Math.min(got, offset + length))));
    const ranges: [number, number][] = [[0, Math.min(size, EDGE_BYTES * 2)], [Math.max(0, size - EDGE_BYTES), Math.min(size, EDGE_BYTES)]];
    for (const p of (table?.partitions ?? []).slice(0, MAX_OLD_PARTITIONS)) {
      if (p.start > 0 && p.start < size) ranges.push([p.start, Math.min(EDGE_BYTES, size - p.start)]);
    }
    for (const [offset, length] of ranges) zeroRange(fd, offset, length);
    fsyncChecked(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The device node of partition 1 of `device`, from sysfs (the kernel's view); null until it exists. */
function firstPartitionNode(device: string): string | null {
  const name = path.basename(fs.realpathSync(device));
  const dir = `/sys/class/block/${name}`;
  let children: string[];
  try {
    children = fs.readdirSync(dir);
  } catch {
    return null;
  }
  for (const child of children) {
    try {
      if (fs.readFileSync(path.join(dir, child, 'partition'), 'utf8').trim() !== '1') continue;
    } catch {
      continue;
    }
    const node = `/dev/${child}`;
    return fs.existsSync(node) && fs.statSync(node).isBlockDevice() ? node : null;
  }
  return null;
}

async function waitForPartition(device: string): Promise<string> {
  const until = Date.now() + PARTITION_NODE_WAIT_MS;
  for (;;) {
    const node = firstPartitionNode(device);
    if (node) return node;
    if (Date.now() > until) {
      throw new ImprintError('E_WRITE', `${device} was partitioned, but the system did not show its new partition: unplug the drive, plug it in again, and format it once more.`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Linux: wipefs, zero the edges, sfdisk, partx, mkfs (drive-formatter.ts says why each). */
export async function formatOnLinux(spec: FormatSpec): Promise<FormatOutcome> {
  const { device, size, signal } = spec;
  spec.onStep?.('wiping');
  // Every signature libblkid knows of on the whole drive, wherever it sits (GPT backup included).
  await run('wipefs', ['--all', '--force', device], signal);
  zeroOldStructures(device, size);

  spec.onStep?.('partitioning');
  const type = MBR_TYPE_FOR[spec.filesystem].toString(16);
  // No size: the partition runs to the drive's last sector.
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', '--label', 'dos', device], signal, `label: dos\nstart=${PARTITION_START / 1024 / 1024}MiB, type=${type}\n`);
  // Tell the kernel: forget the old partitions, learn the new one (sfdisk's own re-read needs
  // partition scanning, which a loop device attached without -P lacks; partx works either way).
  await run('partx', ['-d', device], signal).catch(() => undefined);
  await run('partx', ['-a', device], signal).catch(() => undefined);
  const partition = await waitForPartition(device);

  spec.onStep?.('making-filesystem');
  if (spec.filesystem === 'fat32') {
    await run('mkfs.vfat', ['-F', '32', '-n', spec.label, partition], signal);
  } else {
    await run('mkfs.exfat', ['-L', spec.label, partition], signal);
  }
  // The drive's own page cache still holds the zeros written through it above, while mkfs
  // wrote through the partition's node: drop it, so whoever reads the drive next sees the media.
  await run('blockdev', ['--flushbufs', device], signal);
  return { partition };
}
