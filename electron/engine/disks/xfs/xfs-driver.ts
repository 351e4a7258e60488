import type { FilesystemDriver } from '../filesystem-driver';
import { hasXfsMagic } from './xfs-superblock';

/** XFS: allocation from each group's free-space B-tree when its log is clean (xfs-allocation.ts), files through its inodes (xfs-view.ts). */
export const xfsDriver: FilesystemDriver = {
  family: 'xfs',
  detect: hasXfsMagic,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  allocation: (volume) => (require('./xfs-allocation') as typeof import('./xfs-allocation')).xfsAllocation(volume),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  open: (volume) => (require('./xfs-view') as typeof import('./xfs-view')).openXfs(volume),
};
