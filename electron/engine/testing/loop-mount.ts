import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachLoop } from './loop-device';
import { SLOW_TOOL_MS, runTool } from './run-tool';

/**
 * Mounts the filesystem in the image `image` through a loop device for
 * `fn` (read-only unless `writable`, with mount `options`), then unmounts,
 * detaches and removes the mount point, whatever `fn` did. `fn` also gets
 * the loop device (to copy it while mounted, as a crash would leave it).
 */
export async function withLoopMount<T>(image: string, writable: boolean, fn: (dir: string, device: string) => T | Promise<T>, options: string[] = []): Promise<T> {
  const mnt = fs.mkdtempSync(path.join(path.dirname(image), 'mnt-'));
  const dev = await attachLoop(image, { readOnly: !writable });
  let mounted = false;
  try {
    const opts = [...(writable ? [] : ['ro']), ...options];
    await runTool('mount', [...(opts.length > 0 ? ['-o', opts.join(',')] : []), dev, mnt], SLOW_TOOL_MS);
    mounted = true;
    return await fn(mnt, dev);
  } finally {
    if (mounted) await runTool('umount', [mnt], SLOW_TOOL_MS);
    await detachLoop(dev);
    fs.rmdirSync(mnt);
  }
}
