import type { Drive } from '../drive';

/**
 * Hand-built drives for unit tests of every layer (shared rules, the service,
 * the renderer's store): it lives in shared/ because that is the one folder
 * all of them may import. Real drives come from the engine's lsblk listing
 * and real loop devices; these are for tests that only need the shape.
 */

/**
 * A plain, writable 16 GB USB stick at `/dev/sdb`: not system, not read-only,
 * not a loop device, not mounted. A test overrides only what it is about, so
 * a case reads as the one fact it checks.
 */
export function fakeDrive(over: Partial<Drive> = {}): Drive {
  return {
    device: '/dev/sdb',
    size: 16e9,
    description: 'SanDisk Ultra',
    bus: 'usb',
    removable: true,
    readOnly: false,
    system: false,
    virtual: false,
    mountpoints: [],
    blockSize: 512,
    ...over,
  };
}
