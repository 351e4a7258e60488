import * as fs from 'fs';
import type { Drive } from '../../../shared/drive';
import { blockDeviceSize, isReadOnlyDevice, logicalBlockSize } from '../io/block-device';

/** A block device the OS does not list as a drive (a partition, say): facts from sysfs. */
export function driveFromSysfs(device: string): Drive {
  return {
    device,
    size: blockDeviceSize(device),
    description: 'Block device',
    bus: null,
    removable: false,
    readOnly: isReadOnlyDevice(device),
    system: false,
    virtual: false,
    mountpoints: mountpointsOf(device),
    blockSize: logicalBlockSize(device),
  };
}

/** Where a block device is mounted, from the kernel's own table (matched by device number, so any alias of the node counts). */
export function mountpointsOf(device: string): string[] {
  try {
    const rdev = fs.statSync(device).rdev;
    return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').flatMap((line) => {
      const [dev, mp] = line.split(' ');
      if (!dev?.startsWith('/dev/') || !mp) return [];
      try {
        return fs.statSync(dev).rdev === rdev ? [mp.replace(/\\040/g, ' ')] : [];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

