import type { FilesystemDriver } from '../filesystem-driver';
import { btrfsAllocation } from './btrfs-allocation';
import { BtrfsProblem, SUPER_OFFSET, SUPER_SIZE, hasBtrfsMagic, parseSuper } from './btrfs-superblock';
import { openBtrfs } from './btrfs-view';

/** btrfs on one device: allocation from its extent tree (btrfs-allocation.ts), files through its subvolume trees (btrfs-view.ts). */
export const btrfsDriver: FilesystemDriver = {
  family: 'btrfs',
  detect: hasBtrfsMagic,
  allocation: btrfsAllocation,
  // The superblock's count (data and metadata, each once): the map walks the whole extent tree.
  async usedBytes(volume) {
    if (volume.size < SUPER_OFFSET + SUPER_SIZE) return null;
    try {
      return parseSuper(await volume.read(SUPER_OFFSET, SUPER_SIZE)).bytesUsed;
    } catch (err) {
      if (err instanceof BtrfsProblem) return null;
      throw err;
    }
  },
  open: openBtrfs,
};
