import { FieldError, isObject, link, sha256, size, text, type Json } from './catalogue-fields';
import type { CatalogueFolder, CatalogueImage, CatalogueItem } from './catalogue';

/**
 * Raspberry Pi Imager's OS list (raspberrypi/rpi-imager,
 * doc/json-schema/os-list-schema.json): `{ "os_list": [ entry... ] }`, where
 * an entry is an image (name, description, icon, url, extract_size,
 * extract_sha256, image_download_size, image_download_sha256, release_date,
 * website), a folder with inline `subitems`, or a folder whose entries are in
 * another list at `subitems_url` (fetched only when opened).
 */

/** Inline folders nest this deep at most; a deeper list is refused as crafted. */
export const MAX_INLINE_DEPTH = 8;
/** Entries per list: Imager's own list holds about a hundred. */
export const MAX_ENTRIES = 5000;

export interface ParsedList {
  items: CatalogueItem[];
  problems: string[];
}

/** The os_list array of a parsed list, or a message saying why there is none. */
export function osListOf(json: unknown): unknown[] | string {
  if (!isObject(json)) return 'it is not a JSON object';
  const list = json.os_list;
  if (!Array.isArray(list)) return list === undefined ? 'it has no "os_list"' : '"os_list" is not a list';
  return list;
}

/**
 * Parses a list's entries. `base` resolves relative URLs (icons are often
 * relative); `origin` names the list in messages; `path` is the folder it
 * sits in. A broken entry is left out and described in `problems`.
 */
export function parseRpiEntries(list: unknown[], base: string | null, origin: string, path: string[] = [], depth = 0): ParsedList {
  const items: CatalogueItem[] = [];
  const problems: string[] = [];
  if (depth > MAX_INLINE_DEPTH) return { items, problems: [`${origin}: folders nest deeper than ${MAX_INLINE_DEPTH} levels; the rest is left out.`] };
  list.slice(0, MAX_ENTRIES).forEach((raw, i) => {
    const where = `${origin}[${i}]`;
    if (!isObject(raw)) {
      problems.push(`${where}: an entry must be an object.`);
      return;
    }
    const label = typeof raw.name === 'string' ? `${where} "${raw.name.slice(0, 80)}"` : where;
    try {
      const item = parseEntry(raw, base, where, path, depth, problems);
      if (item) items.push(item);
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      problems.push(`${label}: ${err.message}; entry left out.`);
    }
  });
  if (list.length > MAX_ENTRIES) problems.push(`${origin}: more than ${MAX_ENTRIES} entries; the rest are left out.`);
  return { items, problems };
}

function parseEntry(o: Json, base: string | null, where: string, path: string[], depth: number, problems: string[]): CatalogueItem | null {
  const name = text(o, 'name', { required: true });
  const description = text(o, 'description', { max: 2000 }) ?? '';
  // A bad icon costs the picture, not the entry.
  let icon: string | null = null;
  try {
    icon = link(o, 'icon', base);
  } catch {
    icon = null;
  }
  if (o.subitems !== undefined) {
    if (!Array.isArray(o.subitems)) throw new FieldError('"subitems" must be a list');
    const inner = parseRpiEntries(o.subitems, base, `${where}.subitems`, [...path, name], depth + 1);
    problems.push(...inner.problems);
    const folder: CatalogueFolder = { kind: 'folder', name, description, icon, path, origin: where, items: inner.items, subitemsUrl: null };
    return folder;
  }
  if (o.subitems_url !== undefined) {
    const subitemsUrl = link(o, 'subitems_url', base, { required: true });
    return { kind: 'folder', name, description, icon, path, origin: where, items: null, subitemsUrl };
  }
  const rawUrl = typeof o.url === 'string' ? o.url : null;
  // Imager's own actions ("Erase": internal://format) are not images.
  if (rawUrl?.startsWith('internal://')) return null;
  const url = link(o, 'url', base, { required: true }) as string;
  const image: CatalogueImage = {
    kind: 'image',
    name,
    description,
    url,
    icon,
    releaseDate: text(o, 'release_date', { max: 40 }),
    downloadSize: size(o, 'image_download_size'),
    downloadSha256: sha256(o, 'image_download_sha256'),
    extractSize: size(o, 'extract_size'),
    extractSha256: sha256(o, 'extract_sha256'),
    website: link(o, 'website', base),
    path,
    origin: where,
  };
  return image;
}
