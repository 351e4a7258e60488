import type { FilesystemDriver } from '../filesystem-driver';
import { BtrfsProblem, SUPER_OFFSET, SUPER_SIZE, hasBtrfsMagic, parseSuper } from './btrfs-superblock';

/** btrfs on one device: allocation from its extent tree (btrfs-allocation.ts), files through its subvolume trees (btrfs-view.ts). */
export const btrfsDriver: FilesystemDriver = {
  family: 'btrfs',
  detect: hasBtrfsMagic,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  allocation: (volume) => (require('./btrfs-allocation') as typeof import('./btrfs-allocation')).btrfsAllocation(volume),
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
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  open: (volume) => (require('./btrfs-view') as typeof import('./btrfs-view')).openBtrfs(volume),
};
