/**
 * Image formats, told apart by their first bytes, never by the file name
 * (an `.img` may be gzip, a `.zip` may be anything).
 */
export type ImageFormat = 'raw' | 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'zip';

const MAGICS: { format: ImageFormat; bytes: number[] }[] = [
  { format: 'gzip', bytes: [0x1f, 0x8b] },
  { format: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { format: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { format: 'bzip2', bytes: [0x42, 0x5a, 0x68] },
  { format: 'zip', bytes: [0x50, 0x4b, 0x03, 0x04] },
];

/** Format of content starting with `head` (at least 8 bytes when the file has them). */
export function detectFormat(head: Uint8Array): ImageFormat {
  for (const { format, bytes } of MAGICS) {
    if (head.length >= bytes.length && bytes.every((b, i) => head[i] === b)) {
      // "BZh" must be followed by a block size digit 1-9 to be bzip2.
      if (format === 'bzip2' && !(head[3] !== undefined && head[3] >= 0x31 && head[3] <= 0x39)) continue;
      return format;
    }
  }
  // An empty zip archive starts with the end-of-central-directory record.
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x05 && head[3] === 0x06) return 'zip';
  return 'raw';
}

export const FORMAT_LABELS: Record<ImageFormat, string> = {
  raw: 'raw image',
  gzip: 'gzip',
  xz: 'xz',
  zstd: 'zstd',
  bzip2: 'bzip2',
  zip: 'zip archive',
};
