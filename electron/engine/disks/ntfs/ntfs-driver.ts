import type { FilesystemDriver } from '../filesystem-driver';
import { ntfsAllocation } from './allocation';
import { looksLikeNtfs } from './boot-sector';
import { openNtfs } from './ntfs-view';

/** NTFS: used-cluster maps from $Bitmap (allocation.ts) and browsing through the MFT (ntfs-view.ts). */
export const ntfsDriver: FilesystemDriver = {
  family: 'ntfs',
  detect: looksLikeNtfs,
  allocation: ntfsAllocation,
  open: openNtfs,
};
