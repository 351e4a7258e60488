import type { FilesystemDriver } from '../filesystem-driver';
import { looksLikeIso9660 } from './iso-records';

/**
 * ISO 9660 with Joliet and Rock Ridge: files only. No allocation map: a
 * hybrid image's partitions may overlap the ISO filesystem, so every byte
 * of it is kept when backed up.
 */
export const iso9660Driver: FilesystemDriver = {
  family: 'iso9660',
  detect: (head) => looksLikeIso9660(head),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  open: (volume) => (require('./iso-view') as typeof import('./iso-view')).openIso9660(volume),
};
