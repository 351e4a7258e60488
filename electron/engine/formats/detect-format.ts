import { IMAGE_KINDS, kindForHead, type ImageFormat } from './image-kinds';

/**
 * Image formats, told apart by their first bytes, never by the file name
 * (an `.img` may be gzip, a `.zip` may be anything). The kinds and their
 * magic bytes are in image-kinds.ts.
 */
export type { ImageFormat } from './image-kinds';

/** Format of content starting with `head` (at least 8 bytes when the file has them). */
export function detectFormat(head: Uint8Array): ImageFormat {
  return kindForHead(head).format;
}

export const FORMAT_LABELS = Object.fromEntries(IMAGE_KINDS.map((k) => [k.format, k.label])) as Record<ImageFormat, string>;
