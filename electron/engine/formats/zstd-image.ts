import { readEmbeddedMetadata } from './backup-metadata';
import { defineImageKind, startsWith } from './image-kind';
import { decodeZstd, ZstdReader } from './zstd-decoder';
import { readZstdLayout } from './zstd-frames';

/** zstd: libzstd decodes straight into the ring's slots. */
export const ZSTD_IMAGE = defineImageKind({
  format: 'zstd',
  label: 'zstd',
  matches: (head) => startsWith(head, [0x28, 0xb5, 0x2f, 0xfd]),
  // An Imprint backup's data frames do not declare their sizes (they are
  // written as the drive is read); its metadata frame records the drive's.
  // Still downloading: the frame walk would run through the zeros where the rest will be.
  inspect: async (_fd, file) => (file.growing ? { size: null, sizeEstimate: null } : { size: readZstdLayout(file.path)?.contentSize ?? readEmbeddedMetadata(file.path)?.size ?? null, sizeEstimate: null }),
  abilities: (file) => ({ size: file.size === null ? 'unknown' : 'exact', randomAccess: false, intoRing: 'decode', systemProgram: null }),
  openSlotReader: (file, opts) => new ZstdReader(file.path, { signal: opts.signal, onInput: opts.onInput }),
  openStream: (file, opts) => decodeZstd(file.path, { signal: opts.signal, onInput: opts.onInput }),
});
