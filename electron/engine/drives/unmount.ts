import { execFile } from 'child_process';
import { promisify } from 'util';
import { ImprintError } from '../errors';

const execFileAsync = promisify(execFile);

/**
 * Unmounts every mountpoint of a drive before it is written, deepest first.
 * A mountpoint that will not go (busy) refuses the whole write and names it.
 */
export async function unmountAll(device: string, mountpoints: string[]): Promise<void> {
  const failures: string[] = [];
  for (const mp of [...mountpoints].sort((a, b) => b.length - a.length)) {
    try {
      await execFileAsync('umount', [mp]);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      failures.push(`${mp}${stderr ? ` (${stderr})` : ''}`);
    }
  }
  if (failures.length > 0) {
    throw new ImprintError('E_TARGET_MOUNTED', `${device} has mounted partitions that could not be unmounted: ${failures.join('; ')}. Close programs using them, unmount them, and try again.`);
  }
}
