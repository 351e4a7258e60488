import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { teardown, trackNewDevice } from './faulty-device-teardown';
import { attachLoop } from './loop-device';
import { NBDKIT_PLUGIN_SOURCE } from './nbdkit-plugin.py';
import { killDaemon, resolveTool, startDaemon, waitForPidFile } from './run-tool';

export { FAULTY_DIR_PREFIX } from './faulty-device-teardown';

/**
 * Real block devices that fail on purpose, for testing the engine against
 * bad media (docs/block-io.md, "Faulty devices for tests"):
 *
 *   nbdkit + Python plugin (faults)  ->  nbdfuse (NBD as a file)  ->  losetup --direct-io=on  ->  /dev/loopN
 *
 * Without --direct-io=on the loop reads through the FUSE file's page cache,
 * which hides injected read errors. Needs root, /dev/fuse and the Debian
 * packages nbdkit, nbdkit-plugin-python, libnbd-bin and fuse3.
 *
 * Behaviour measured here (Linux 6.18, nbdkit 1.32, libnbd 1.14):
 * - Injected errors: O_DIRECT reads and writes get EIO or ENOSPC as chosen.
 *   A buffered read of the bad range gets EIO; a buffered write returns OK
 *   and the EIO appears at fsync.
 * - hang: the writer sleeps in D state (wchan submit_bio_wait); SIGKILL does
 *   not free it, and every other reader or writer of the device blocks too,
 *   including other programs on this machine that probe every loop device.
 *   Killing nbdkit frees them all: their pending I/O fails with EIO.
 *   Faults are armed only when createFaultyDevice returns: losetup fsyncs
 *   the FUSE file while attaching, and that flush must not hang.
 * - kill (device gone): every later I/O fails with EIO, yet the device keeps
 *   its size in sysfs. nbdfuse 1.14 may abort (an assertion in its
 *   completion callback) and leave a dead FUSE mount that answers ENOTCONN;
 *   `fusermount3 -u -z` still removes it.
 */

export interface FaultRange {
  offset: number;
  length: number;
  /** What the request fails with; EIO by default. */
  errno?: 'EIO' | 'ENOSPC';
}

export interface FaultSpec {
  /** Capacity the device reports, in bytes (a multiple of 512). */
  size: number;
  /**
   * Real capacity (a multiple of 512, at most `size`). Reads and writes at
   * offset >= backingSize wrap modulo backingSize, as on a counterfeit drive.
   */
  backingSize?: number;
  /** Reads overlapping a range fail, whole, with its errno. */
  readErrors?: FaultRange[];
  /** Writes overlapping a range fail, whole, with its errno. */
  writeErrors?: FaultRange[];
  /** Writes over a range report success but leave the old bytes there (a drive that lies; errno unused). */
  lostWrites?: FaultRange[];
  /**
   * Once this many bytes have been written, every request (read, write or
   * flush) blocks until the device is torn down. The write that crosses the
   * limit still completes; the next request hangs.
   */
  hangAfterBytesWritten?: number;
  /** The same, counting bytes read (a source drive that stops answering part-way through). */
  hangAfterBytesRead?: number;
  /** Content ends here: a write reaching past it fails ENOSPC, a read EIO. */
  shortAfter?: number;
  /** Preloaded content from offset 0: a Buffer, or the path of a file. */
  initialContent?: Buffer | string;
}

export interface FaultyDevice {
  /** `/dev/loopN`. */
  device: string;
  /** SIGKILLs nbdkit: the device "disappears" (I/O fails with EIO from then on). */
  kill(): Promise<void>;
  /**
   * Reads the backing store directly (offsets in 0..backingSize), bypassing
   * the device: what really landed, even while the device hangs or is dead.
   * Only before close().
   */
  readBacking(offset: number, len: number): Promise<Buffer>;
  /** Removes everything (loop, FUSE mount, nbdkit, temp files). Idempotent; works on a hung device. */
  close(): Promise<void>;
}

/** Builds the device; on any failure removes whatever was set up and rethrows. */
export async function createFaultyDevice(spec: FaultSpec): Promise<FaultyDevice> {
  const backingSize = validate(spec);
  const res = trackNewDevice();
  const dir = res.dir;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= teardown(res));
  try {
    const backingFile = path.join(dir, 'backing.img');
    writeBacking(backingFile, backingSize, spec.initialContent);
    const plugin = path.join(dir, 'faults.py');
    const specFile = path.join(dir, 'spec.json');
    fs.writeFileSync(plugin, NBDKIT_PLUGIN_SOURCE);
    const { initialContent: _content, ...faults } = spec;
    const armedFile = path.join(dir, 'armed');
    fs.writeFileSync(specFile, JSON.stringify({ ...faults, backingSize, backingFile, armedFile }));

    // --exit-with-parent: if this process dies without close(), nbdkit goes
    // too, which at least un-hangs anything blocked on the device.
    const socket = path.join(dir, 'nbd.sock');
    const nbdkitPid = path.join(dir, 'nbdkit.pid');
    res.nbdkit = startDaemon('nbdkit', ['-f', '--exit-with-parent', '-U', socket, '-P', nbdkitPid, 'python', plugin, `spec=${specFile}`]);
    await waitForPidFile(res.nbdkit, nbdkitPid, 'nbdkit');

    // nbdfuse mounts the export over a regular file ("naked" mountpoint).
    // One connection: the plugin serializes requests anyway.
    fs.writeFileSync(res.mountFile, '');
    const fusePid = path.join(dir, 'nbdfuse.pid');
    res.nbdfuse = startDaemon('nbdfuse', ['-C', '1', '-P', fusePid, res.mountFile, '--unix', socket]);
    await waitForPidFile(res.nbdfuse, fusePid, 'nbdfuse');

    res.device = await attachLoop(res.mountFile, { directIo: true });
    // Faults start now, not during the attach (see nbdkit-plugin.py.ts).
    fs.writeFileSync(armedFile, '');
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  const device = res.device;
  return {
    device,
    kill: async () => {
      if (res.nbdkit) await killDaemon(res.nbdkit);
    },
    readBacking: async (offset, len) => {
      if (offset < 0 || len < 0 || offset + len > backingSize) throw new RangeError(`readBacking(${offset}, ${len}) outside 0..${backingSize}`);
      const fh = await fs.promises.open(path.join(dir, 'backing.img'), 'r');
      try {
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
    close,
  };
}

/** Runs `fn` with a faulty device; always closes it. */
export async function withFaultyDevice<T>(spec: FaultSpec, fn: (d: FaultyDevice) => Promise<T>): Promise<T> {
  const dev = await createFaultyDevice(spec);
  try {
    return await fn(dev);
  } finally {
    await dev.close();
  }
}

function validate(spec: FaultSpec): number {
  const backingSize = spec.backingSize ?? spec.size;
  const sector = (n: number) => Number.isSafeInteger(n) && n > 0 && n % 512 === 0;
  if (!sector(spec.size)) throw new RangeError(`size ${spec.size} is not a positive multiple of 512`);
  if (!sector(backingSize) || backingSize > spec.size) throw new RangeError(`backingSize ${backingSize} must be a multiple of 512 in 512..size`);
  for (const r of [...(spec.readErrors ?? []), ...(spec.writeErrors ?? []), ...(spec.lostWrites ?? [])]) {
    if (!(r.offset >= 0 && r.length > 0)) throw new RangeError(`bad fault range ${JSON.stringify(r)}`);
  }
  if (spec.shortAfter !== undefined && !(spec.shortAfter >= 0 && spec.shortAfter <= spec.size)) throw new RangeError(`shortAfter ${spec.shortAfter} outside 0..size`);
  if (spec.hangAfterBytesWritten !== undefined && !(spec.hangAfterBytesWritten >= 0)) throw new RangeError('hangAfterBytesWritten must be >= 0');
  if (spec.hangAfterBytesRead !== undefined && !(spec.hangAfterBytesRead >= 0)) throw new RangeError('hangAfterBytesRead must be >= 0');
  return backingSize;
}

/** A sparse backing file of `size` bytes, preloaded with `content` from offset 0. */
function writeBacking(file: string, size: number, content: Buffer | string | undefined): void {
  if (typeof content === 'string') {
    const have = fs.statSync(content).size;
    if (have > size) throw new RangeError(`initialContent ${content} (${have} bytes) exceeds the backing size ${size}`);
    fs.copyFileSync(content, file);
  } else {
    if (content && content.length > size) throw new RangeError(`initialContent (${content.length} bytes) exceeds the backing size ${size}`);
    fs.writeFileSync(file, content ?? Buffer.alloc(0));
  }
  fs.truncateSync(file, size);
}

let toolCheck: { ok: boolean; missing: string[] } | undefined;

/** Whether this machine can build faulty devices; `missing` says what to install or grant. */
export function faultToolsAvailable(): { ok: boolean; missing: string[] } {
  if (toolCheck) return toolCheck;
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (losetup and FUSE mounts)');
  for (const dev of ['/dev/fuse', '/dev/loop-control']) if (!fs.existsSync(dev)) missing.push(dev);
  const tools: [string, string][] = [['nbdkit', 'nbdkit'], ['nbdfuse', 'libnbd-bin'], ['fusermount3', 'fuse3'], ['losetup', 'util-linux']];
  for (const [cmd, pkg] of tools) if (!resolveTool(cmd)) missing.push(`${cmd} (Debian package ${pkg})`);
  // --dump-plugin loads the plugin, so this also catches a broken libpython.
  const nbdkit = resolveTool('nbdkit');
  if (nbdkit && spawnSync(nbdkit, ['--dump-plugin', 'python'], { stdio: 'ignore', timeout: 10_000 }).status !== 0) {
    missing.push("nbdkit's python plugin (Debian package nbdkit-plugin-python)");
  }
  toolCheck = { ok: missing.length === 0, missing };
  return toolCheck;
}

