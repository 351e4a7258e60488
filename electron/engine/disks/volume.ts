import * as fs from 'fs';

/**
 * Random access to the bytes of one volume: a partition of a drive, of a raw
 * image, of a backup read through its seek table. Filesystem readers
 * (allocation maps, file listings) see only this, so the same reader serves a
 * drive, an image and a backup. Everything read through it is untrusted.
 */
export interface Volume {
  /** The volume's size in bytes (the partition's size, not the filesystem's claim). */
  readonly size: number;
  /**
   * Exactly `length` bytes at `offset` from the volume's start. Throws a
   * VolumeRangeError when any of them lie outside the volume, and passes on
   * the source's own error when it cannot read them; never returns short.
   */
  read(offset: number, length: number): Promise<Buffer>;
}

/** A read that a filesystem's metadata asked for lies outside the volume: the metadata is wrong. */
export class VolumeRangeError extends Error {
  readonly code = 'E_VOLUME_RANGE';
  constructor(
    readonly offset: number,
    readonly length: number,
    readonly volumeSize: number,
  ) {
    super(`read of ${length} bytes at ${offset} lies outside the volume (${volumeSize} bytes)`);
  }
}

/** Throws VolumeRangeError unless [offset, offset+length) lies inside a volume of `size` bytes. */
export function checkVolumeRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new VolumeRangeError(offset, length, size);
  }
}

/**
 * A volume over part of an open file or block device (read-only, buffered).
 * `start` is the partition's byte offset, `size` its length. Short reads are
 * looped over; an early end of the source is an error, never zeros.
 */
export function volumeFromFd(fd: number, start: number, size: number): Volume {
  return {
    size,
    async read(offset, length) {
      checkVolumeRange(offset, length, size);
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await new Promise<{ bytesRead: number }>((resolve, reject) =>
          fs.read(fd, buf, done, length - done, start + offset + done, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead }))),
        );
        if (bytesRead === 0) throw new Error(`the source ended at byte ${start + offset + done}, inside the volume`);
        done += bytesRead;
      }
      return buf;
    },
  };
}
