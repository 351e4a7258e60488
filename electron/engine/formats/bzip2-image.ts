import { createBuiltinBzip2Decoder, nativeBzip2 } from './bzip2-decoder';
import { defineImageKind, startsWith } from './image-kind';
import { decodeWithProgram } from './native-decoder';
import { ProgramReader } from './program-reader';
import { streamThrough } from './stream-through';

const BZIP2_ARGS = ['-d', '-c'];

/** bzip2: a system decoder (bzip2-decoder.ts) into the ring through a named pipe; else the JavaScript one, streamed. */
export const BZIP2_IMAGE = defineImageKind({
  format: 'bzip2',
  label: 'bzip2',
  // "BZh" and a block size digit 1-9.
  matches: (head) => startsWith(head, [0x42, 0x5a, 0x68]) && head[3] !== undefined && head[3] >= 0x31 && head[3] <= 0x39,
  inspect: async () => ({ size: null, sizeEstimate: null }),
  abilities: (_file, decoders) => {
    const program = nativeBzip2(decoders?.bzip2);
    return { size: 'unknown', randomAccess: false, intoRing: program ? 'decode' : 'stream', systemProgram: program };
  },
  openSlotReader: (file, opts) => {
    const program = nativeBzip2(opts.decoders?.bzip2);
    return program ? ProgramReader.open(program, BZIP2_ARGS, file.path, opts) : null;
  },
  openStream: (file, opts) => {
    const program = nativeBzip2(opts.decoders?.bzip2);
    if (program) return decodeWithProgram(program, BZIP2_ARGS, file.path, opts);
    return streamThrough(file.path, createBuiltinBzip2Decoder(), opts);
  },
});
