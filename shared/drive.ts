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
  /**
   * What is on the drive, so people can tell drives apart by the names they
   * gave them: each partition, or the drive itself when a filesystem fills it
   * with no partition table. Absent where the OS listing cannot say.
   */
  partitions?: DrivePartition[];
}

/** A partition (or a whole-drive filesystem) as a drive row names it. */
export interface DrivePartition {
  /** e.g. `/dev/sdb1`; the drive's own path for a filesystem on the whole drive. */
  device: string;
  /** Bytes. */
  size: number;
  /** blkid's names: vfat, exfat, ext4, iso9660...; null when none is recognised. */
  filesystem: string | null;
  label: string | null;
  mountpoints: string[];
}
