import type { FilesystemDriver } from '../filesystem-driver';
import { ntfsAllocation } from './allocation';
import { looksLikeNtfs } from './boot-sector';

/** NTFS: used-cluster maps from $Bitmap (allocation.ts). */
export const ntfsDriver: FilesystemDriver = {
  family: 'ntfs',
  detect: looksLikeNtfs,
  allocation: ntfsAllocation,
};
