import type { FilesystemDriver } from '../filesystem-driver';
import { hasExtMagic } from './ext-superblock';

/** ext2, ext3 and ext4: one reader, as the kernel's ext4 driver mounts all three. */
export const extDriver: FilesystemDriver = {
  family: 'ext',
  detect: hasExtMagic,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  allocation: (volume) => (require('./ext-allocation') as typeof import('./ext-allocation')).extAllocation(volume),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  open: (volume) => (require('./ext-view') as typeof import('./ext-view')).openExt(volume),
};
