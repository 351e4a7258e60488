import { readEmbeddedMetadata } from './backup-metadata';
import { defineImageKind, startsWith } from './image-kind';
import { decodeZstd, ZstdReader } from './zstd-decoder';
import { readZstdLayout } from './zstd-frames';
import { readSeekTable } from './zstd-seek-table';

/** The content size a seek table lists, or null without one; a damaged table leaves it to the header walk (a stream still decodes). */
function seekableContentSize(fd: number, fileSize: number): number | null {
  try {
    return readSeekTable(fd, fileSize)?.contentSize ?? null;
  } catch {
    return null;
  }
}

/** zstd: libzstd decodes straight into the ring's slots. */
export const ZSTD_IMAGE = defineImageKind({
  format: 'zstd',
  label: 'zstd',
  matches: (head) => startsWith(head, [0x28, 0xb5, 0x2f, 0xfd]),
  // An Imprint backup's data frames do not declare their sizes (they are
  // written as the drive is read); its metadata frame records the drive's.
  // A seekable file (Imprint's backups) lists every frame's size in its table at the end: one read instead of
  // a walk over every block header (0.2 s of CPU, 1.5 s on a busy machine, for a 3 GiB drive's backup).
  // Still downloading: neither the table nor the walk can be trusted yet (the rest of the file is zeros).
  inspect: async (fd, file) =>
    file.growing
      ? { size: null, sizeEstimate: null }
      : { size: seekableContentSize(fd, file.fileSize) ?? readZstdLayout(file.path)?.contentSize ?? readEmbeddedMetadata(file.path)?.size ?? null, sizeEstimate: null },
  abilities: (file) => ({ size: file.size === null ? 'unknown' : 'exact', randomAccess: false, intoRing: 'decode', systemProgram: null }),
  openSlotReader: (file, opts) => new ZstdReader(file.path, { signal: opts.signal, onInput: opts.onInput }),
  openStream: (file, opts) => decodeZstd(file.path, { signal: opts.signal, onInput: opts.onInput }),
});
