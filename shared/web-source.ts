/**
 * Flashing from the web, as the app's contract sees it: an image URL typed
 * by the user, or an entry of an OS catalogue (Raspberry Pi Imager's list,
 * Fedora's releases.json) the service read. The renderer never fetches
 * anything itself: icons arrive here as data: URLs, so the page's
 * Content-Security-Policy stays closed to the network.
 */

/** A catalogue the service offers (its configured list: the public defaults, or what the user or a test set). */
export interface CatalogueSourceInfo {
  name: string;
  /** A URL or (set by whoever started Imprint) a file. */
  source: string;
}

/** One image of a catalogue, checked by the engine; `id` names it in startFlashOs. */
export interface CatalogueImageView {
  kind: 'image';
  id: string;
  name: string;
  description: string;
  /** Folder names from the catalogue's top. */
  folder: string[];
  /** A data: URL (PNG, JPEG, GIF or WebP the service fetched and checked), or null. */
  icon: string | null;
  /** YYYY-MM-DD as the catalogue gives it. */
  releaseDate: string | null;
  downloadSize: number | null;
  extractSize: number | null;
  /** The catalogue states a SHA-256 the download or image is checked against. */
  checksum: boolean;
  /** Where it downloads from (credentials removed). */
  url: string;
}

/** A folder of a catalogue: opened with loadCatalogue({ folder: [...folder, name] }). */
export interface CatalogueFolderView {
  kind: 'folder';
  name: string;
  description: string;
  folder: string[];
  icon: string | null;
}

export type CatalogueItemView = CatalogueImageView | CatalogueFolderView;

export interface CatalogueRequest {
  /** One of the listed sources, or an http(s) URL; absent: the first configured. */
  source?: string;
  /** Folder names from the top; absent: the top. */
  folder?: string[];
  /** Words every listed image must contain (every folder searched); absent: the folder's items. */
  search?: string;
}

export interface CatalogueListing {
  /** The source shown. */
  source: string;
  sources: CatalogueSourceInfo[];
  folder: string[];
  search: string | null;
  items: CatalogueItemView[];
  /** More matched than are listed. */
  truncated: boolean;
  /** Entries the catalogue had that break its format, each naming the entry and field. */
  problems: string[];
}

export interface UrlFlashRequest {
  url: string;
  /** The published SHA-256 the user pasted (of the file or of the image inside). */
  sha256?: string;
  targets: string[];
  verify: boolean;
}

export interface OsFlashRequest {
  /** A CatalogueImageView's id from this service's loadCatalogue. */
  entryId: string;
  targets: string[];
  verify: boolean;
}

/** Longest URL accepted: far beyond any real download link, short of a memory problem. */
export const MAX_URL_LENGTH = 4000;

export const SHA256_PATTERN = /^[0-9a-fA-F]{64}$/;

/**
 * What is wrong with a typed image URL, in words for the field, or null.
 * The service applies its own policy again (plain http only to this
 * network, redirects...): this only catches what needs no network.
 */
export function imageUrlProblem(text: string): string | null {
  const t = text.trim();
  if (t === '') return 'Type the address of an image (https://…).';
  if (t.length > MAX_URL_LENGTH) return `That address is ${t.length} characters long; Imprint takes at most ${MAX_URL_LENGTH}.`;
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return 'That is not a web address: it should look like https://example.org/os.img.xz.';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `Imprint downloads over https (or http) only, not ${url.protocol.replace(/:$/, '')}.`;
  if (!url.hostname) return 'The address names no server.';
  if (url.pathname === '/' || url.pathname === '') return 'The address names a server but no file on it.';
  return null;
}

/** What is wrong with a pasted SHA-256, or null (empty is allowed: it is optional). */
export function sha256Problem(text: string): string | null {
  const t = text.trim();
  if (t === '' || SHA256_PATTERN.test(t)) return null;
  return `A SHA-256 is 64 hexadecimal digits (0-9, a-f); this is ${t.length} characters${/[^0-9a-fA-F]/.test(t) ? ' with other characters in it' : ''}.`;
}

/** The last part of a URL's path, for headings ("os.img.xz"); the host when there is none. */
export function urlFileName(text: string): string {
  try {
    const u = new URL(text);
    const last = decodeURIComponent(u.pathname.split('/').filter(Boolean).at(-1) ?? '');
    return last || u.host;
  } catch {
    return text;
  }
}
