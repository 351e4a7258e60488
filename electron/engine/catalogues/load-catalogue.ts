import * as fs from 'fs';
import { ImprintError } from '../errors';
import { fetchSmall, type HttpOptions } from '../net/http-request';
import { redact } from '../net/url-policy';
import { displayName, type Catalogue, type CatalogueFolder, type CatalogueImage, type CatalogueItem } from './catalogue';
import { FieldError } from './catalogue-fields';
import { parseFedoraReleases } from './fedora-releases';
import { osListOf, parseRpiEntries } from './rpi-imager-list';

/** 16 MiB: Imager's full list is about 100 KiB, Fedora's about 150 KiB. */
export const MAX_CATALOGUE_BYTES = 16 << 20;
/** subitems_url lists followed from the top, at most: Imager's own nest two deep. */
export const MAX_FETCH_DEPTH = 3;
/** Lists fetched for one walk of a catalogue. */
export const MAX_FETCHES = 64;

export interface CatalogueOptions {
  http: HttpOptions;
  onWarning?: (message: string) => void;
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** The catalogue's text: fetched from a URL (bounded), or read from a file. */
async function readSource(source: string, opts: CatalogueOptions): Promise<{ text: string; base: string | null; name: string }> {
  if (isUrl(source)) {
    const r = await fetchSmall(source, MAX_CATALOGUE_BYTES, opts.http);
    if (!r) throw new ImprintError('E_DOWNLOAD_FAILED', `The catalogue ${source} is not there (HTTP 404).`);
    return { text: r.body.toString('utf8'), base: r.url.href, name: redact(r.url) };
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch (err) {
    throw new ImprintError('E_SOURCE_NOT_FOUND', `The catalogue ${source} does not exist: give a file or an http(s) URL.`, { cause: err });
  }
  if (!stat.isFile()) throw new ImprintError('E_CATALOGUE_INVALID', `The catalogue ${source} is not a file.`);
  if (stat.size > MAX_CATALOGUE_BYTES) throw new ImprintError('E_CATALOGUE_INVALID', `The catalogue ${source} is ${stat.size} bytes; a catalogue is at most ${MAX_CATALOGUE_BYTES}.`);
  return { text: fs.readFileSync(source, 'utf8'), base: null, name: source };
}

function parseJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ImprintError('E_CATALOGUE_INVALID', `The catalogue ${name} is not valid JSON (${(err as Error).message}).`, { cause: err });
  }
}

/**
 * Reads a catalogue from a URL or a file and tells its format from its
 * shape: an object with "os_list" is Raspberry Pi Imager's, a list is Fedora
 * Media Writer's. Folders behind subitems_url are not fetched yet.
 */
export async function loadCatalogue(source: string, opts: CatalogueOptions): Promise<Catalogue> {
  const { text, base, name } = await readSource(source, opts);
  const json = parseJson(text, name);
  if (Array.isArray(json)) {
    try {
      const { items, problems } = parseFedoraReleases(json, name);
      return { source: name, format: 'fedora-media-writer', items, problems };
    } catch (err) {
      if (err instanceof FieldError) throw new ImprintError('E_CATALOGUE_INVALID', `The catalogue ${name}: ${err.message}.`);
      throw err;
    }
  }
  const list = osListOf(json);
  if (typeof list === 'string') {
    throw new ImprintError('E_CATALOGUE_INVALID', `The catalogue ${name} is neither a Raspberry Pi Imager OS list nor a Fedora releases.json: ${list}.`);
  }
  const { items, problems } = parseRpiEntries(list, base, `${name} os_list`);
  return { source: name, format: 'rpi-imager', items, problems };
}

/** Fetches the entries of a folder listed at subitems_url. */
export async function openFolder(folder: CatalogueFolder, opts: CatalogueOptions): Promise<string[]> {
  if (folder.items !== null || !folder.subitemsUrl) return [];
  const { text, base, name } = await readSource(folder.subitemsUrl, opts);
  const list = osListOf(parseJson(text, name));
  if (typeof list === 'string') throw new ImprintError('E_CATALOGUE_INVALID', `The list of "${folder.name}" (${name}) is not an OS list: ${list}.`);
  const parsed = parseRpiEntries(list, base, `${name} os_list`, [...folder.path, folder.name]);
  folder.items = parsed.items;
  return parsed.problems;
}

/**
 * Every image in the catalogue. With `expand`, folders behind subitems_url
 * are fetched (at most MAX_FETCH_DEPTH deep and MAX_FETCHES lists); a folder
 * that cannot be fetched becomes a problem, not a failure.
 */
export async function allImages(cat: Catalogue, opts: CatalogueOptions & { expand: boolean }): Promise<CatalogueImage[]> {
  const out: CatalogueImage[] = [];
  let fetches = 0;
  const walk = async (items: CatalogueItem[], depth: number): Promise<void> => {
    for (const item of items) {
      if (item.kind === 'image') {
        out.push(item);
        continue;
      }
      if (item.items === null && opts.expand && depth < MAX_FETCH_DEPTH && fetches < MAX_FETCHES) {
        fetches++;
        try {
          cat.problems.push(...(await openFolder(item, opts)));
        } catch (err) {
          cat.problems.push(`Folder "${item.name}" (${item.subitemsUrl}): ${(err as Error).message}`);
        }
      }
      if (item.items) await walk(item.items, item.subitemsUrl ? depth + 1 : depth);
    }
  };
  await walk(cat.items, 0);
  return out;
}

/**
 * The one image a name picks: an exact name or "Folder / Name" (any case),
 * else the one entry whose name contains it. None, or several, is an error
 * listing what there is; a name that matches only a broken entry says why it was left out.
 */
export function findImage(images: CatalogueImage[], wanted: string, problems: string[] = []): CatalogueImage {
  const w = wanted.trim().toLowerCase();
  const exact = images.filter((e) => e.name.toLowerCase() === w || displayName(e).toLowerCase() === w);
  const found = exact.length > 0 ? exact : images.filter((e) => e.name.toLowerCase().includes(w));
  if (found.length === 1 && found[0]) return found[0];
  if (found.length > 1) {
    const names = found.slice(0, 12).map((e) => `  ${displayName(e)}`);
    throw new ImprintError('E_CATALOGUE_NO_MATCH', `"${wanted}" matches ${found.length} entries; give one exactly:\n${names.join('\n')}${found.length > 12 ? '\n  ...' : ''}`);
  }
  const broken = problems.find((p) => p.toLowerCase().includes(`"${w}`));
  if (broken) throw new ImprintError('E_CATALOGUE_INVALID', `"${wanted}" is in the catalogue but was left out: ${broken}`);
  throw new ImprintError('E_CATALOGUE_NO_MATCH', `No entry named "${wanted}" in the catalogue. \`imprint catalogue --search WORDS\` lists what it offers.`);
}
