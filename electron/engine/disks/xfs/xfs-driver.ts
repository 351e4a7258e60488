import type { FilesystemDriver } from '../filesystem-driver';
import { xfsAllocation } from './xfs-allocation';
import { hasXfsMagic } from './xfs-superblock';

/** XFS: allocation from each group's free-space B-tree, when its log is clean (xfs-allocation.ts). Its files are not listed yet. */
export const xfsDriver: FilesystemDriver = {
  family: 'xfs',
  detect: hasXfsMagic,
  allocation: xfsAllocation,
};
