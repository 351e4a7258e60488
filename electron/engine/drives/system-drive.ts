import * as fs from 'fs';
import { diskOfDeviceNumber } from '../io/block-device';

/**
 * Whole disks that hold the running system, found independently of
 * drivelist: whatever backs `/`, `/boot`, `/usr`, `/var` and `/home`, and any
 * active swap. The engine refuses these even if a drive list says otherwise.
 */
const SYSTEM_PATHS = ['/', '/boot', '/boot/efi', '/usr', '/var', '/home'];

export function systemDisks(): Set<string> {
  const disks = new Set<string>();
  if (process.platform !== 'linux') return disks;
  for (const p of SYSTEM_PATHS) {
    try {
      const disk = diskOfDeviceNumber(fs.statSync(p).dev);
      if (disk) disks.add(disk);
    } catch {
      // Path absent on this system.
    }
  }
  try {
    for (const line of fs.readFileSync('/proc/swaps', 'utf8').split('\n').slice(1)) {
      const dev = line.split(/\s+/)[0];
      if (dev && dev.startsWith('/dev/')) {
        const disk = diskOfDeviceNumber(fs.statSync(dev).rdev);
        if (disk) disks.add(disk);
      }
    }
  } catch {
    // No swap information.
  }
  return disks;
}

export function isSystemDisk(device: string): boolean {
  try {
    const rdev = fs.statSync(device).rdev;
    const disk = diskOfDeviceNumber(rdev);
    return disk !== null && systemDisks().has(disk);
  } catch {
    return false;
  }
}
