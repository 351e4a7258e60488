import { defineImageKind, startsWith } from './image-kind';
import { decodeWithProgram } from './native-decoder';
import { ProgramReader } from './program-reader';
import { nativeXz, nativeXzArgs } from './xz-decoder';
import { decodeXzParallel, xzUncompressedSize } from './xz-parallel-decoder';

/**
 * .xz: the system's xz when it decodes on several threads (xz-decoder.ts says
 * when), into the ring through a named pipe; else the in-process parallel
 * decoder (xz-parallel-decoder.ts), streamed.
 */
export const XZ_IMAGE = defineImageKind({
  format: 'xz',
  label: 'xz',
  matches: (head) => startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
  inspect: async (_fd, file) => ({ size: file.growing ? null : await xzUncompressedSize(file.path), sizeEstimate: null }),
  abilities: (file, decoders) => {
    const program = nativeXz(decoders?.xz);
    return { size: file.size === null ? 'unknown' : 'exact', randomAccess: false, intoRing: program ? 'decode' : 'stream', systemProgram: program };
  },
  openSlotReader: (file, opts) => {
    const program = nativeXz(opts.decoders?.xz);
    return program ? ProgramReader.open(program, nativeXzArgs(), file.path, opts) : null;
  },
  openStream: (file, opts) => {
    const program = nativeXz(opts.decoders?.xz);
    if (program) return decodeWithProgram(program, nativeXzArgs(), file.path, opts);
    return decodeXzParallel(file.path, { signal: opts.signal, transient: opts.transient === true });
  },
});
