import type { FilesystemDriver } from '../filesystem-driver';
import { looksLikeFatBootSector } from './fat-boot-sector';

/** FAT12, FAT16 and FAT32: allocation from the FAT, files through the directory tree. */
export const fatDriver: FilesystemDriver = {
  family: 'fat',
  detect: (head) => looksLikeFatBootSector(head),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  allocation: (volume) => (require('./fat-allocation') as typeof import('./fat-allocation')).fatAllocation(volume),
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when used (filesystem-registry.ts)
  open: (volume) => (require('./fat-view') as typeof import('./fat-view')).openFat(volume),
};
