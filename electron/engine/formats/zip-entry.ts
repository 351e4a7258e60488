import * as yauzl from 'yauzl';
import { ImprintError } from '../errors';

/**
 * Picks the one disk image inside a zip archive. Archives often carry a
 * README or checksum file beside the image; those are not candidates.
 */
const NOT_IMAGES = /\.(txt|md|rst|html?|pdf|nfo|json|xml|ya?ml|sha\d*|sha256sum|md5|sig|asc|gpg|url|ini|log|png|jpe?g|gif)$/i;
/** Checksum lists and notes that by custom carry no extension. */
const NOT_IMAGE_NAMES = /(^|\/)((SHA\d*|MD5|B2|CHECK)SUMS|README|LICEN[CS]E|COPYING|CHANGELOG|AUTHORS|NOTICE)$/i;

export interface ZipImageEntry {
  name: string;
  /** Offset of the entry's compressed data inside the archive. */
  dataOffset: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** 0 stored, 8 deflate. */
  method: number;
}

function isCandidate(entry: yauzl.Entry): boolean {
  const name = entry.fileName;
  if (name.endsWith('/') || name.startsWith('__MACOSX/') || /(^|\/)\.DS_Store$/.test(name)) return false;
  return !NOT_IMAGES.test(name) && !NOT_IMAGE_NAMES.test(name) && entry.uncompressedSize > 0;
}

export async function findZipImage(path: string): Promise<ZipImageEntry> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new ImprintError('E_CORRUPT_SOURCE', `The zip archive ${path} is truncated or corrupt: ${(err as Error).message}`, { cause: err });
  }
  return pickZipImage(zip, path);
}

/** The image in an open archive (`path` names it in messages); closes `zip`. */
export async function pickZipImage(zip: yauzl.ZipFile, path: string): Promise<ZipImageEntry> {
  try {
    const candidates: yauzl.Entry[] = [];
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        if (isCandidate(entry)) candidates.push(entry);
        zip.readEntry();
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    }).catch((err: unknown) => {
      throw new ImprintError('E_CORRUPT_SOURCE', `The zip archive ${path} is corrupt: ${(err as Error).message}`, { cause: err });
    });
    if (candidates.length === 0) {
      throw new ImprintError('E_ZIP_NO_IMAGE', `The zip archive ${path} holds no disk image (only folders, text or checksum files).`);
    }
    if (candidates.length > 1) {
      const names = candidates.map((e) => e.fileName).join(', ');
      throw new ImprintError('E_ZIP_SEVERAL_IMAGES', `The zip archive ${path} holds several files that could be the image (${names}). Extract the one you want and flash that.`);
    }
    const entry = candidates[0] as yauzl.Entry;
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      throw new ImprintError('E_UNSUPPORTED_FORMAT', `${entry.fileName} in ${path} uses zip compression method ${entry.compressionMethod}; Imprint reads stored and deflated entries.`);
    }
    if (entry.isEncrypted()) {
      throw new ImprintError('E_UNSUPPORTED_FORMAT', `${entry.fileName} in ${path} is encrypted.`);
    }
    const header = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
    return {
      name: entry.fileName,
      dataOffset: header.fileDataStart,
      compressedSize: entry.compressedSize,
      uncompressedSize: entry.uncompressedSize,
      crc32: entry.crc32,
      method: entry.compressionMethod,
    };
  } finally {
    zip.close();
  }
}
