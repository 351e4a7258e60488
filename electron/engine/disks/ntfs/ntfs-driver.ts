import type { FilesystemDriver } from '../filesystem-driver';
import { looksLikeNtfs } from './boot-sector';

/** NTFS: used-cluster maps from $Bitmap (allocation.ts) and browsing through the MFT (ntfs-view.ts). */
export const ntfsDriver: FilesystemDriver = {
  family: 'ntfs',
  detect: looksLikeNtfs,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  allocation: (volume) => (require('./allocation') as typeof import('./allocation')).ntfsAllocation(volume),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  open: (volume) => (require('./ntfs-view') as typeof import('./ntfs-view')).openNtfs(volume),
};
