import type { FilesystemDriver } from '../filesystem-driver';
import { btrfsAllocation } from './btrfs-allocation';
import { hasBtrfsMagic } from './btrfs-superblock';

/** btrfs on one device: allocation from its extent tree (btrfs-allocation.ts). Its files are not listed yet. */
export const btrfsDriver: FilesystemDriver = {
  family: 'btrfs',
  detect: hasBtrfsMagic,
  allocation: btrfsAllocation,
};
