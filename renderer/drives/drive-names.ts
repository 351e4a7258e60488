import type { Drive } from '../../shared/drive';
import { formatBytes } from '../../shared/units';

/**
 * A vendor code such as "0x1af4" (a PCI or USB id the OS gives when it has no
 * name) tells a person nothing: such words are left out of a drive's name.
 */
export function readableDescription(description: string): string {
  const words = description.split(/\s+/).filter((w) => w.length > 0 && !/^0x[0-9a-f]{4}$/i.test(w));
  return words.join(' ');
}

/** "SanDisk Cruzer, 32.0 GB" for a drive as listed; the device path alone when it is not listed. */
export function driveLabel(device: string, drives: readonly Drive[]): string {
  const d = drives.find((x) => x.device === device);
  if (!d) return device;
  const name = readableDescription(d.description);
  return `${name ? `${name}, ` : ''}${formatBytes(d.size)}`;
}
