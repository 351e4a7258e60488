import * as zlib from 'zlib';
import { readFully } from '../io/full-io';
import { defineImageKind, INFLATE_CHUNK, startsWith } from './image-kind';
import { canInflateInPlace, InflateReader } from './inflate-reader';
import { streamThrough } from './stream-through';

/** gzip (RFC 1952): one or more members, each deflate data with a CRC-32 and the size mod 2^32. */
export const GZIP_IMAGE = defineImageKind({
  format: 'gzip',
  label: 'gzip',
  matches: (head) => startsWith(head, [0x1f, 0x8b]),
  inspect: async (fd, file) => {
    // ISIZE is the size mod 2^32 of the last member only: a hint, never a promise.
    const tail = Buffer.alloc(4);
    let sizeEstimate: number | null = null;
    let minSize: number | null = null;
    if (!file.growing && file.fileSize >= 18 && readFully(fd, tail, 0, 4, file.fileSize - 4) === 4) {
      const isize = tail.readUInt32LE(0);
      if (isize > file.fileSize) sizeEstimate = isize;
      // A lower bound on the content whatever the members (flash-job confirms it before refusing a drive).
      if (isize > 0) minSize = isize;
    }
    return { size: null, sizeEstimate, minSize };
  },
  abilities: () => ({ size: 'estimate', randomAccess: false, intoRing: canInflateInPlace() ? 'decode' : 'stream', systemProgram: null }),
  openSlotReader: (file, opts) => (canInflateInPlace() ? new InflateReader(file.path, { signal: opts.signal, onInput: opts.onInput, mode: 'gzip' }) : null),
  openStream: (file, opts) => streamThrough(file.path, zlib.createGunzip({ chunkSize: INFLATE_CHUNK }), opts),
});
