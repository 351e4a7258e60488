import { BZIP2_IMAGE } from './bzip2-image';
import { GZIP_IMAGE } from './gzip-image';
import type { ImageKind } from './image-kind';
import { RAW_IMAGE } from './raw-image';
import { XZ_IMAGE } from './xz-image';
import { ZIP_IMAGE } from './zip-image';
import { ZSTD_IMAGE } from './zstd-image';

/**
 * Every kind of image Imprint reads, tried in this order on a file's first
 * bytes; raw, which claims anything, last. A new kind is a file like
 * gzip-image.ts and one line here (README: "Adding an image format").
 */
export const IMAGE_KINDS = [
  GZIP_IMAGE,
  XZ_IMAGE,
  ZSTD_IMAGE,
  BZIP2_IMAGE,
  ZIP_IMAGE,
  RAW_IMAGE,
] as const;

/** The name of each kind of image ('raw', 'gzip', ...). */
export type ImageFormat = (typeof IMAGE_KINDS)[number]['format'];

/** The kind of content starting with `head` (the file's first 16 bytes, or all of a shorter file). */
export function kindForHead(head: Uint8Array): ImageKind<ImageFormat> {
  return IMAGE_KINDS.find((k) => k.matches(head)) ?? RAW_IMAGE;
}

/** The kind named `format`. */
export function kindNamed(format: ImageFormat): ImageKind<ImageFormat> {
  const kind = IMAGE_KINDS.find((k) => k.format === format);
  if (!kind) throw new Error(`no image kind named ${format}`);
  return kind;
}
