import type { FilesystemDriver } from '../filesystem-driver';
import { xfsAllocation } from './xfs-allocation';
import { hasXfsMagic } from './xfs-superblock';
import { openXfs } from './xfs-view';

/** XFS: allocation from each group's free-space B-tree when its log is clean (xfs-allocation.ts), files through its inodes (xfs-view.ts). */
export const xfsDriver: FilesystemDriver = {
  family: 'xfs',
  detect: hasXfsMagic,
  allocation: xfsAllocation,
  open: openXfs,
};
