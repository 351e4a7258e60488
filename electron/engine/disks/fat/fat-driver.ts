import type { FilesystemDriver } from '../filesystem-driver';
import { looksLikeFatBootSector } from './fat-boot-sector';
import { fatAllocation } from './fat-allocation';
import { openFat } from './fat-view';

/** FAT12, FAT16 and FAT32: allocation from the FAT, files through the directory tree. */
export const fatDriver: FilesystemDriver = {
  family: 'fat',
  detect: (head) => looksLikeFatBootSector(head),
  allocation: fatAllocation,
  open: openFat,
};
