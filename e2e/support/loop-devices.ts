import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A loop device this test attached over a file it made: the only devices e2e tests ever write. */
export interface LoopDevice {
  device: string;
  file: string;
}

/**
 * Attaches a loop device (direct I/O, as the engine's own tests do) over a
 * pre-allocated file of `bytes` in `dir`. The caller detaches it in a
 * finally / afterAll with `detachLoop`.
 */
export function attachLoop(dir: string, name: string, bytes: number): LoopDevice {
  const file = path.join(dir, name);
  execFileSync('fallocate', ['-l', String(bytes), file]);
  const device = execFileSync('losetup', ['-f', '--show', '--direct-io=on', file], { encoding: 'utf8' }).trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed ${JSON.stringify(device)}`);
  return { device, file };
}

/** Attaches a loop device over an existing file (whose content the test made). */
export function attachLoopOver(file: string): LoopDevice {
  const device = execFileSync('losetup', ['-f', '--show', '--direct-io=on', file], { encoding: 'utf8' }).trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed ${JSON.stringify(device)}`);
  return { device, file };
}

export function detachLoop(loop: LoopDevice | undefined): void {
  if (!loop) return;
  try {
    execFileSync('losetup', ['-d', loop.device]);
  } catch {
    // Already gone: a test may detach it itself.
  }
  fs.rmSync(loop.file, { force: true });
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

/** The first `bytes` of a file or device, to compare what was written. */
export function readHead(file: string, bytes: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    let done = 0;
    while (done < bytes) {
      const n = fs.readSync(fd, buf, done, bytes - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}
