import { NtfsFormatError } from './runlist';

/**
 * LZNT1, the compression of NTFS compressed files. A compression unit's data
 * is a sequence of chunks, each expanding to at most 4 KiB: a 2-byte header
 * (low 12 bits: chunk size minus 3; bit 15: compressed), then either the raw
 * 4 KiB or groups of a flag byte and eight tokens (a literal byte, or a
 * 2-byte back-reference whose split between offset and length bits widens as
 * the chunk's output grows). Described with ntfs_decompress in ntfs-3g's
 * libntfs-3g/compress.c.
 */

const CHUNK = 4096;

/**
 * Expands `src` into `out` (the unit's expanded size); bytes past the end of
 * the data stay as they are (zeros). Throws NtfsFormatError on malformed data.
 */
export function lznt1Decompress(src: Buffer, out: Buffer): void {
  let s = 0;
  let d = 0;
  // Each chunk consumes at least 2 bytes of src and writes up to 4 KiB: bounded by src and out.
  while (s + 2 <= src.length && d < out.length) {
    const header = src.readUInt16LE(s);
    if (header === 0) return;
    const size = (header & 0x0fff) + 3;
    const chunkEnd = s + size;
    if (chunkEnd > src.length) throw new NtfsFormatError('a compressed block runs past its compression unit');
    const outEnd = Math.min(out.length, d + CHUNK);
    s += 2;
    if ((header & 0x8000) === 0) {
      // Stored chunk: the raw bytes.
      const n = Math.min(chunkEnd - s, outEnd - d);
      src.copy(out, d, s, s + n);
      d += CHUNK;
      s = chunkEnd;
      continue;
    }
    const chunkStart = d;
    while (s < chunkEnd && d < outEnd) {
      const flags = src[s++] as number;
      for (let bit = 0; bit < 8 && s < chunkEnd && d < outEnd; bit++) {
        if ((flags & (1 << bit)) === 0) {
          out[d++] = src[s++] as number;
          continue;
        }
        if (s + 2 > chunkEnd) throw new NtfsFormatError('a compressed block ends inside a back-reference');
        const token = src.readUInt16LE(s);
        s += 2;
        let lg = 0;
        for (let i = d - chunkStart - 1; i >= 0x10; i >>= 1) lg++;
        const length = (token & (0xfff >> lg)) + 3;
        const back = (token >> (12 - lg)) + 1;
        if (back > d - chunkStart) throw new NtfsFormatError('a compressed block refers to data before its start');
        for (let k = 0; k < length && d < outEnd; k++, d++) out[d] = out[d - back] as number;
      }
    }
    // A chunk that expands to less than 4 KiB is the last one with data; the rest reads as zeros.
    d = chunkStart + CHUNK;
    s = chunkEnd;
  }
}
