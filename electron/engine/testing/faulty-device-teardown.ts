import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detachLoop, isLoopAttached, loopsBackedBy } from './loop-device';
import { killDaemon, resolveTool, runTool, type Daemon } from './run-tool';

/**
 * Teardown of faulty devices (faulty-device.ts): the normal async path, a
 * synchronous last resort at process exit or on a signal, and a janitor for
 * what a SIGKILLed test process left (e.g. the node:test runner kills its
 * file processes with SIGKILL when it dies itself).
 *
 * Order matters. nbdkit dies first: a hung request is then answered with an
 * error, so nothing after it can block on the device (a `losetup -d` of a
 * device with stuck I/O and no other opener would wait in D state). The data
 * is already in the backing file. Then the loop (the kernel defers it while
 * someone still holds the device open), then the FUSE mount lazily (-z: the
 * loop may still hold the file), then the files.
 */

/** Temp dirs are named with this prefix, so tests and the janitor can find them. */
export const FAULTY_DIR_PREFIX = 'imprint-faulty-';

export interface Resources {
  dir: string;
  mountFile: string;
  nbdkit?: Daemon;
  nbdfuse?: Daemon;
  device?: string;
}

/** Devices not yet closed, torn down synchronously if the process ends first. */
const live = new Set<Resources>();

/** Every temp dir this process made, closed or not: what a leak check looks for. */
const created: string[] = [];
export function faultyDirsCreated(): readonly string[] {
  return created;
}

/** Makes the temp dir, records its owner for the janitor, and tracks it. */
export function trackNewDevice(): Resources {
  reapStale();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), FAULTY_DIR_PREFIX));
  created.push(dir);
  fs.writeFileSync(path.join(dir, 'owner'), String(process.pid));
  const res: Resources = { dir, mountFile: path.join(dir, 'disk') };
  live.add(res);
  registerExitHook();
  return res;
}

/** Loops bound to our FUSE file, by path too: a teardown that interrupted losetup does not know the device. */
function loopsOf(res: { mountFile: string; device?: string }): string[] {
  return [...new Set([...(res.device ? [res.device] : []), ...loopsBackedBy(res.mountFile)])];
}

/** Async teardown; every step runs even if an earlier one failed, and the first error is rethrown. */
export async function teardown(res: Resources): Promise<void> {
  const errors: unknown[] = [];
  const step = async (fn: () => unknown) => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };
  await step(() => res.nbdkit && killDaemon(res.nbdkit));
  for (const device of loopsOf(res)) await step(() => detachLoop(device));
  await step(() => res.nbdfuse && isMounted(res.mountFile) && runTool('fusermount3', ['-u', '-z', res.mountFile]));
  // nbdfuse exits once unmounted; one that is wedged is killed after 5 s.
  await step(() => res.nbdfuse && killAfter(res.nbdfuse, 5_000));
  await step(() => fs.rmSync(res.dir, { recursive: true, force: true }));
  live.delete(res);
  if (errors.length > 0) throw errors[0];
}

async function killAfter(d: Daemon, ms: number): Promise<void> {
  const timedOut = await Promise.race([d.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), ms).unref())]);
  if (timedOut) await killDaemon(d);
}

export function isMounted(file: string): boolean {
  // /proc/self/mounts escapes spaces as \040; our temp paths have none.
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === file);
}

let exitHookRegistered = false;

/**
 * Last resort when a test forgets close() or the process ends mid-test (an
 * uncaught error, Ctrl-C, SIGTERM): synchronous, best effort.
 */
function registerExitHook(): void {
  if (exitHookRegistered) return;
  exitHookRegistered = true;
  process.on('exit', teardownAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      teardownAllSync();
      // Re-raise so the signal still ends the process, unless someone else
      // listens for it and owns shutdown.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

function teardownAllSync(): void {
  for (const res of live) {
    teardownSync(res.dir, res.nbdkit?.child.pid, res.nbdfuse?.child.pid, res.device);
    live.delete(res);
  }
}

/**
 * Removes the leftovers of faulty devices whose owning process is dead.
 * Pids are only signalled if their command line names the dir (pid reuse).
 */
export function reapStale(): void {
  let names: string[];
  try {
    names = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(FAULTY_DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(os.tmpdir(), name);
    const owner = Number(readOr(path.join(dir, 'owner'), '0'));
    if (owner === 0 || isAlive(owner)) continue;
    const pidIn = (file: string) => {
      const pid = Number(readOr(path.join(dir, file), '0'));
      return pid > 0 && readOr(`/proc/${pid}/cmdline`, '').includes(dir) ? pid : undefined;
    };
    teardownSync(dir, pidIn('nbdkit.pid'), pidIn('nbdfuse.pid'));
  }
}

function teardownSync(dir: string, nbdkitPid?: number, nbdfusePid?: number, device?: string): void {
  const mountFile = path.join(dir, 'disk');
  const sync = (cmd: string, args: string[]) => spawnSync(resolveTool(cmd) ?? cmd, args, { stdio: 'ignore', timeout: 5_000 });
  killAndWait(nbdkitPid);
  for (const dev of loopsOf({ mountFile, device })) if (isLoopAttached(dev)) sync('losetup', ['-d', dev]);
  if (isMounted(mountFile)) sync('fusermount3', ['-u', '-z', mountFile]);
  // Unmounted, nbdfuse would exit once the loop lets go of the file; with
  // its server dead it has nothing left to serve, so it is killed.
  killAndWait(nbdfusePid);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** SIGKILL, then up to 2 s (it takes milliseconds) for the process to be dead or a zombie. */
function killAndWait(pid: number | undefined): void {
  if (pid === undefined || !isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // Already gone.
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
}

/** Running (not exited, not a zombie), from /proc/PID/stat. */
function isAlive(pid: number): boolean {
  const stat = readOr(`/proc/${pid}/stat`, '');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z' && state !== 'X';
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}
