/** A drive as Imprint shows it: the same shape for the CLI, main and renderer. */
export interface Drive {
  /** Path to open, e.g. `/dev/sdb` or `/dev/loop3`. */
  device: string;
  /** Size in bytes. */
  size: number;
  description: string;
  /** Bus or transport as the OS names it (usb, sata, nvme, mmc, loop...), or null. */
  bus: string | null;
  removable: boolean;
  readOnly: boolean;
  system: boolean;
  /** A loop device: an image file attached as a drive. */
  virtual: boolean;
  mountpoints: string[];
  /** Logical sector size in bytes. */
  blockSize: number;
}
