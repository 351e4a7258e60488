import * as zlib from 'zlib';
import { crc32 } from '../io/crc32';
import { defineImageKind, INFLATE_CHUNK, startsWith, type ImageFile } from './image-kind';
import { canInflateInPlace, InflateReader } from './inflate-reader';
import { streamThrough } from './stream-through';
import { findZipImage, type ZipImageEntry } from './zip-entry';

function entryOf(file: ImageFile): ZipImageEntry {
  if (!file.zipEntry) throw new Error(`${file.path}: the zip archive was not inspected`);
  return file.zipEntry;
}

/** A zip archive holding one image (zip-entry.ts finds it), stored or deflated; its size and CRC-32 are checked. */
export const ZIP_IMAGE = defineImageKind({
  format: 'zip',
  label: 'zip archive',
  // A local file header, or an empty archive's end-of-central-directory record.
  matches: (head) => startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06]),
  inspect: async (_fd, file) => {
    const zipEntry = await findZipImage(file.path);
    return { size: zipEntry.uncompressedSize, sizeEstimate: null, zipEntry };
  },
  abilities: (file) => ({
    size: 'exact',
    // A stored entry is the image itself, at an offset in the archive.
    randomAccess: false,
    intoRing: file.zipEntry?.method === 8 && canInflateInPlace() ? 'decode' : 'stream',
    systemProgram: null,
  }),
  openSlotReader: (file, opts) => {
    const entry = entryOf(file);
    if (entry.method !== 8 || !canInflateInPlace()) return null;
    return new InflateReader(file.path, { signal: opts.signal, onInput: opts.onInput, mode: 'raw', start: entry.dataOffset, length: entry.compressedSize, expect: { size: entry.uncompressedSize, crc32: entry.crc32 } });
  },
  openStream: (file, opts) => streamEntry(file, entryOf(file), opts),
});

async function* streamEntry(file: ImageFile, entry: ZipImageEntry, opts: { signal?: AbortSignal; onInput?: (bytes: number) => void }): AsyncGenerator<Buffer> {
  const decoder = entry.method === 0 ? null : zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK });
  let total = 0;
  let crc = 0;
  for await (const chunk of streamThrough(file.path, decoder, { ...opts, start: entry.dataOffset, end: entry.dataOffset + entry.compressedSize - 1 })) {
    total += chunk.length;
    crc = crc32(chunk, crc);
    yield chunk;
  }
  if (total !== entry.uncompressedSize) throw new Error(`expected ${entry.uncompressedSize} bytes, got ${total}`);
  if (crc >>> 0 !== entry.crc32 >>> 0) throw new Error('CRC-32 of the extracted image does not match the archive');
}
