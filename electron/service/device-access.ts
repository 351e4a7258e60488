import * as fs from 'fs';

/**
 * Whether this process may open each path for the job without help: as root,
 * or where the OS grants this user the access (a `disk` group member, a udev
 * rule for removable drives). Files that do not exist yet are created by the
 * job itself, so they need no elevation.
 */
export function canOpenDirectly(paths: readonly string[], mode: 'read' | 'write', isRoot = process.getuid?.() === 0): boolean {
  if (isRoot) return true;
  const flag = mode === 'write' ? fs.constants.W_OK : fs.constants.R_OK;
  return paths.every((p) => {
    if (!fs.existsSync(p)) return true;
    try {
      fs.accessSync(p, flag);
      return true;
    } catch {
      return false;
    }
  });
}
