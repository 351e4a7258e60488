import type { FilesystemDriver } from '../filesystem-driver';
import { looksLikeExfatBootSector } from './exfat-boot-sector';

/** exFAT: allocation from the allocation bitmap, files through directory entry sets. */
export const exfatDriver: FilesystemDriver = {
  family: 'exfat',
  detect: (head) => looksLikeExfatBootSector(head),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  allocation: (volume) => (require('./exfat-allocation') as typeof import('./exfat-allocation')).exfatAllocation(volume),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  open: (volume) => (require('./exfat-view') as typeof import('./exfat-view')).openExfat(volume),
};
