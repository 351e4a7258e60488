import * as fs from 'node:fs';
import * as path from 'node:path';
import { teardown, trackNewDevice } from './faulty-device-teardown';
import { attachLoop } from './loop-device';
import { resolveTool, startDaemon, waitForPidFile } from './run-tool';

/**
 * A real block device that writes and reads slowly, so a spec can act in the
 * middle of a job (reload the page, cancel): nbdkit's file plugin behind its
 * rate filter, exposed as a file by nbdfuse, then `losetup --direct-io=on`
 * (direct I/O, so the pace is the drive's and not the page cache's; see
 * docs/block-io.md). The same chain and teardown as the
 * engine's faulty devices (faulty-device.ts), whose janitor also removes
 * what a killed test run left. With `noWriteZeroes` it is a USB stick or SD
 * card as the kernel sees one: no "write zeroes" command (nbdkit's nozero
 * filter turns zero requests into writes, at the same pace), so the kernel
 * zeroes a range by writing zeros to it.
 */
export interface SlowDrive {
  device: string;
  /** The file behind the drive: what landed, read without going through the drive's pace (after a flush). */
  backingFile: string;
  /** Kills nbdkit (pending I/O fails), detaches the loop, unmounts, removes the files. Idempotent. */
  close(): Promise<void>;
}

/** Why this machine cannot make one, or null when it can. */
export function slowDriveUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'a slow drive needs root (losetup, FUSE)';
  if (!fs.existsSync('/dev/fuse')) return 'a slow drive needs /dev/fuse';
  for (const [tool, pkg] of [['nbdkit', 'nbdkit'], ['nbdfuse', 'libnbd-bin'], ['fusermount3', 'fuse3']] as const) {
    if (!resolveTool(tool)) return `a slow drive needs ${tool} (Debian package ${pkg})`;
  }
  return null;
}

/**
 * A drive of `bytes` whose reads and writes together pass at most
 * `bitsPerSecond` (nbdkit's rate filter counts bits: "16M" is 2 MB/s).
 */
export async function createSlowDrive(bytes: number, bitsPerSecond: string, opts: { noWriteZeroes?: boolean; initialContent?: Buffer } = {}): Promise<SlowDrive> {
  const res = trackNewDevice();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= teardown(res));
  try {
    const backing = path.join(res.dir, 'backing.img');
    fs.writeFileSync(backing, opts.initialContent ?? '');
    fs.truncateSync(backing, bytes);
    const socket = path.join(res.dir, 'nbd.sock');
    const nbdkitPid = path.join(res.dir, 'nbdkit.pid');
    // (Filters apply top down: nozero's emulated writes pass through rate.)
    const nozero = opts.noWriteZeroes ? ['--filter=nozero'] : [];
    const nozeroArgs = opts.noWriteZeroes ? ['zeromode=emulate'] : [];
    res.nbdkit = startDaemon('nbdkit', ['-f', '--exit-with-parent', '-U', socket, '-P', nbdkitPid, ...nozero, '--filter=rate', 'file', backing, `rate=${bitsPerSecond}`, ...nozeroArgs]);
    await waitForPidFile(res.nbdkit, nbdkitPid, 'nbdkit');
    fs.writeFileSync(res.mountFile, '');
    const fusePid = path.join(res.dir, 'nbdfuse.pid');
    res.nbdfuse = startDaemon('nbdfuse', ['-C', '1', '-P', fusePid, res.mountFile, '--unix', socket]);
    await waitForPidFile(res.nbdfuse, fusePid, 'nbdfuse');
    res.device = await attachLoop(res.mountFile, { directIo: true });
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { device: res.device, backingFile: path.join(res.dir, 'backing.img'), close };
}
