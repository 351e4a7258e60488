import type { FilesystemDriver } from '../filesystem-driver';
import { extAllocation } from './ext-allocation';
import { hasExtMagic } from './ext-superblock';
import { openExt } from './ext-view';

/** ext2, ext3 and ext4: one reader, as the kernel's ext4 driver mounts all three. */
export const extDriver: FilesystemDriver = {
  family: 'ext',
  detect: hasExtMagic,
  allocation: extAllocation,
  open: openExt,
};
