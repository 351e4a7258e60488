import type { FilesystemDriver } from '../filesystem-driver';
import { looksLikeExfatBootSector } from './exfat-boot-sector';
import { exfatAllocation } from './exfat-allocation';
import { openExfat } from './exfat-view';

/** exFAT: allocation from the allocation bitmap, files through directory entry sets. */
export const exfatDriver: FilesystemDriver = {
  family: 'exfat',
  detect: (head) => looksLikeExfatBootSector(head),
  allocation: exfatAllocation,
  open: openExfat,
};
