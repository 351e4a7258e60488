/**
 * What a catalogue offers: images to flash, in folders. Raspberry Pi
 * Imager's os_list JSON and Fedora Media Writer's releases.json both become
 * this. Every field was read from untrusted JSON and checked (catalogue-fields.ts).
 */
export interface CatalogueImage {
  kind: 'image';
  name: string;
  description: string;
  url: string;
  icon: string | null;
  /** YYYY-MM-DD as the list gives it. */
  releaseDate: string | null;
  /** The file as downloaded (compressed). */
  downloadSize: number | null;
  downloadSha256: string | null;
  /** The image inside it, uncompressed. */
  extractSize: number | null;
  extractSha256: string | null;
  website: string | null;
  /** Folder names from the top of the catalogue. */
  path: string[];
  /** The list it came from and where in it, for messages ("https://.../os_list.json, os_list[3]"). */
  origin: string;
}

export interface CatalogueFolder {
  kind: 'folder';
  name: string;
  description: string;
  icon: string | null;
  path: string[];
  origin: string;
  /** Entries listed inline, or fetched from subitemsUrl; null until fetched. */
  items: CatalogueItem[] | null;
  subitemsUrl: string | null;
}

export type CatalogueItem = CatalogueImage | CatalogueFolder;

export type CatalogueFormat = 'rpi-imager' | 'fedora-media-writer';

export interface Catalogue {
  /** The URL or file it was read from. */
  source: string;
  format: CatalogueFormat;
  items: CatalogueItem[];
  /** Entries left out because they break the format, each naming the entry and the field. */
  problems: string[];
}

/** The two projects' public lists: the defaults of `imprint catalogue`. Nothing is fetched until asked for. */
export const DEFAULT_CATALOGUES: ReadonlyArray<{ name: string; url: string }> = [
  { name: 'Raspberry Pi Imager', url: 'https://downloads.raspberrypi.com/os_list_imagingutility_v4.json' },
  { name: 'Fedora Media Writer', url: 'https://fedoraproject.org/releases.json' },
];

/** The checksums an entry states: of the download, and of the image inside. */
export function entryChecksums(e: CatalogueImage): Array<{ sha256: string; from: string; of: 'file' | 'content' }> {
  const out: Array<{ sha256: string; from: string; of: 'file' | 'content' }> = [];
  if (e.extractSha256) out.push({ sha256: e.extractSha256, from: `${e.origin} "${e.name}" (extract_sha256)`, of: 'content' });
  if (e.downloadSha256) out.push({ sha256: e.downloadSha256, from: `${e.origin} "${e.name}" (download checksum)`, of: 'file' });
  return out;
}

/** Every word appears in the entry's name, description or folders (case-insensitive). */
export function matchesSearch(e: CatalogueImage, words: string): boolean {
  const hay = [e.name, e.description, ...e.path].join(' ').toLowerCase();
  return words
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

export function displayName(e: CatalogueImage): string {
  return [...e.path, e.name].join(' / ');
}
