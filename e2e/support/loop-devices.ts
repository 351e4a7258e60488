import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLoopDevice, readDirect, removeLoopDevice, type LoopDevice } from '../../electron/engine/testing/loop-device';

/**
 * The e2e specs' loop devices are the engine tests' (`electron/engine/testing/loop-device.ts`):
 * pre-allocated backing files, `--direct-io=on`, read back with O_DIRECT. Only what a spec
 * needs on top lives here: files named inside the spec's own folder, and the reason a machine
 * cannot run them. These are the only devices e2e tests ever write.
 */
export type { LoopDevice };

/** A loop device of `bytes` over a new file `name` in `dir`; the caller removes it with `detachLoop` in a finally / afterAll. */
export function attachLoop(dir: string, name: string, bytes: number): Promise<LoopDevice> {
  return createLoopDevice(bytes, { file: path.join(dir, name) });
}

/** A loop device over an existing file whose content the spec made (a drive to back up). */
export function attachLoopOver(file: string): Promise<LoopDevice> {
  return createLoopDevice(fs.statSync(file).size, { file });
}

/** Detaches; the backing file stays in the spec's folder, which the session deletes. */
export async function detachLoop(loop: LoopDevice | undefined): Promise<void> {
  if (loop) await removeLoopDevice(loop);
}

/** True when this process may attach loop devices (root with losetup). */
export function canUseLoopDevices(): string | null {
  if (process.platform !== 'linux') return 'loop devices are Linux-only';
  if (process.getuid?.() !== 0) return 'attaching loop devices needs root';
  try {
    execFileSync('losetup', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'losetup is not installed (util-linux)';
  }
  return null;
}

/** The first `bytes` of a device as the medium holds them (O_DIRECT: never the page cache's copy). */
export function readHead(device: string, bytes: number): Buffer {
  return readDirect(device, 0, bytes);
}
