import { defineImageKind } from './image-kind';
import { streamThrough } from './stream-through';

/** An uncompressed image: what a file is when no other kind claims its first bytes. */
export const RAW_IMAGE = defineImageKind({
  format: 'raw',
  label: 'raw image',
  matches: () => true,
  inspect: async (_fd, file) => ({ size: file.fileSize, sizeEstimate: null }),
  abilities: () => ({ size: 'exact', randomAccess: true, intoRing: 'read', systemProgram: null }),
  // The source worker reads raw images straight into the ring (intoRing 'read').
  openSlotReader: () => null,
  openStream: (file, opts) => streamThrough(file.path, null, opts),
});
