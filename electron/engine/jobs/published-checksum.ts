import * as fs from 'fs';
import * as path from 'path';

/**
 * The checksum a publisher put beside an image: `IMAGE.sha256`, or a line
 * for the image in `SHA256SUMS` (sha256sum's format, "HEX  NAME" or "HEX *NAME").
 */
export interface PublishedChecksum {
  sha256: string;
  /** Where it came from, to name in messages. */
  from: string;
  /** The digest is of the uncompressed content only (a backup's record): the file itself need not be hashed. */
  contentOnly?: boolean;
  /** What a mismatch means, for the message (default: a corrupt or incomplete download). */
  whenMismatched?: string;
}

const HEX64 = /\b([0-9a-fA-F]{64})\b/;

export function findPublishedChecksum(image: string): PublishedChecksum | null {
  const own = `${image}.sha256`;
  if (fs.existsSync(own)) {
    const m = HEX64.exec(fs.readFileSync(own, 'utf8'));
    if (m?.[1]) return { sha256: m[1].toLowerCase(), from: own };
  }
  const sums = path.join(path.dirname(image), 'SHA256SUMS');
  if (fs.existsSync(sums)) {
    const name = path.basename(image);
    for (const line of fs.readFileSync(sums, 'utf8').split('\n')) {
      const m = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line);
      if (m?.[1] && m[2] && (m[2] === name || path.basename(m[2]) === name)) return { sha256: m[1].toLowerCase(), from: sums };
    }
  }
  return null;
}

export function isSha256Hex(value: string): boolean {
  return /^[0-9a-fA-F]{64}$/.test(value);
}
