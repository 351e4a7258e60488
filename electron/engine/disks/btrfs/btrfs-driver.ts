import type { FilesystemDriver } from '../filesystem-driver';
import { btrfsAllocation } from './btrfs-allocation';
import { hasBtrfsMagic } from './btrfs-superblock';
import { openBtrfs } from './btrfs-view';

/** btrfs on one device: allocation from its extent tree (btrfs-allocation.ts), files through its subvolume trees (btrfs-view.ts). */
export const btrfsDriver: FilesystemDriver = {
  family: 'btrfs',
  detect: hasBtrfsMagic,
  allocation: btrfsAllocation,
  open: openBtrfs,
};
