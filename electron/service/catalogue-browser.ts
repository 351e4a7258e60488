import type { CatalogueImageView, CatalogueItemView, CatalogueListing, CatalogueRequest, CatalogueSourceInfo } from '../../shared/web-source';
import { ImprintError } from '../engine/errors';
import { entryChecksums, matchesSearch, type Catalogue, type CatalogueImage, type CatalogueItem } from '../engine/catalogues/catalogue';
import { allImages, loadCatalogue, openFolder, type CatalogueOptions } from '../engine/catalogues/load-catalogue';
import { fetchSmall, type HttpOptions } from '../engine/net/http-request';
import { redact } from '../engine/net/url-policy';

/** Search results listed at most: a person reads a few dozen; the rest is refined by more words. */
export const MAX_LISTED = 200;
/** An icon is a small picture (Imager's are 40x40 PNGs of a few KiB); more is not an icon. */
export const MAX_ICON_BYTES = 256 << 10;
/** Icons fetched at once: a folder of Imager's list has up to ~30, and servers do not like a burst of them. */
const ICON_CONCURRENCY = 4;
/** Problems passed on to the page, at most (each names an entry the catalogue got wrong). */
const MAX_PROBLEMS = 50;

/** The picture formats shown, told by their magic bytes (never by the server's Content-Type); SVG is left out: it is a document, not a picture. */
export function imageMimeOf(bytes: Buffer): string | null {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.subarray(0, 6).toString('latin1'))) return 'image/gif';
  if (bytes.length >= 12 && bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}

/** Runs `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * The app's view of the OS catalogues: loads one when the user opens it
 * (never before), keeps it for the session, opens folders behind
 * subitems_url as they are browsed, and fetches icons here, in the service,
 * handing them to the page as data: URLs so the page itself never reaches
 * the network. Entries get short ids the page names them by; startFlashOs
 * looks them up here, so the checksums and sizes flashed against are the
 * ones this process read, not ones the page sent back.
 */
export class CatalogueBrowser {
  private readonly loaded = new Map<string, Promise<Catalogue>>();
  private readonly byId = new Map<string, { image: CatalogueImage; source: string }>();
  private readonly idOf = new WeakMap<CatalogueImage, string>();
  private readonly icons = new Map<string, Promise<string | null>>();
  private nextId = 1;

  constructor(
    private readonly sources: readonly CatalogueSourceInfo[],
    private readonly http: HttpOptions,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** The catalogue entry an id from list() names, with the catalogue it came from. */
  entry(id: string): { image: CatalogueImage; source: string } {
    const found = this.byId.get(id);
    if (!found) throw new ImprintError('E_CATALOGUE_NO_MATCH', 'That catalogue entry is not known (Imprint was restarted since the list was shown?): open the catalogue again and choose it.');
    return found;
  }

  async list(req: CatalogueRequest): Promise<CatalogueListing> {
    const source = this.sourceOf(req.source);
    const cat = await this.load(source);
    const opts = this.options();
    const folder = req.folder ?? [];
    const search = req.search?.trim() ? req.search.trim() : null;
    let shown: CatalogueItem[];
    let truncated = false;
    if (search !== null) {
      const matched = (await allImages(cat, { ...opts, expand: true })).filter((e) => matchesSearch(e, search));
      truncated = matched.length > MAX_LISTED;
      shown = matched.slice(0, MAX_LISTED);
    } else {
      shown = await this.folderItems(cat, folder, opts);
    }
    const items = await mapLimited(shown, ICON_CONCURRENCY, (item) => this.view(item, source));
    return { source, sources: [...this.sources], folder, search, items, truncated, problems: [...new Set(cat.problems)].slice(0, MAX_PROBLEMS) };
  }

  private options(): CatalogueOptions {
    return { http: this.http, onWarning: (m) => this.log(`catalogue: ${m}`) };
  }

  /** A configured source, or a URL the user gave; files only as configured (the page may not make the service read a file). */
  private sourceOf(asked: string | undefined): string {
    if (asked === undefined) {
      const first = this.sources[0];
      if (!first) throw new ImprintError('E_BAD_ARGUMENTS', 'No OS catalogue is set up: give a catalogue address.');
      return first.source;
    }
    if (this.sources.some((s) => s.source === asked) || /^https?:\/\//i.test(asked)) return asked;
    throw new ImprintError('E_BAD_ARGUMENTS', `A catalogue is given by its address (https://…), not "${asked.slice(0, 80)}".`);
  }

  /** Loaded once per session; a failure is not kept, so opening the catalogue again retries. */
  private load(source: string): Promise<Catalogue> {
    let p = this.loaded.get(source);
    if (!p) {
      p = loadCatalogue(source, this.options());
      this.loaded.set(source, p);
      p.catch(() => this.loaded.delete(source));
    }
    return p;
  }

  private async folderItems(cat: Catalogue, folder: readonly string[], opts: CatalogueOptions): Promise<CatalogueItem[]> {
    let items = cat.items;
    for (const name of folder) {
      const found = items.find((i) => i.kind === 'folder' && i.name === name);
      if (!found || found.kind !== 'folder') throw new ImprintError('E_CATALOGUE_NO_MATCH', `The catalogue ${cat.source} has no folder "${name}".`);
      if (found.items === null) cat.problems.push(...(await openFolder(found, opts)));
      items = found.items ?? [];
    }
    return items;
  }

  private async view(item: CatalogueItem, source: string): Promise<CatalogueItemView> {
    const icon = item.icon ? await this.icon(item.icon) : null;
    if (item.kind === 'folder') return { kind: 'folder', name: item.name, description: item.description, folder: item.path, icon };
    const view: CatalogueImageView = {
      kind: 'image',
      id: this.idFor(item, source),
      name: item.name,
      description: item.description,
      folder: item.path,
      icon,
      releaseDate: item.releaseDate,
      downloadSize: item.downloadSize,
      extractSize: item.extractSize,
      checksum: entryChecksums(item).length > 0,
      url: redact(new URL(item.url)),
    };
    return view;
  }

  private idFor(image: CatalogueImage, source: string): string {
    let id = this.idOf.get(image);
    if (!id) {
      id = `e${this.nextId++}`;
      this.idOf.set(image, id);
      this.byId.set(id, { image, source });
    }
    return id;
  }

  /** An icon as a data: URL; a missing, oversized or unknown picture costs the picture, never the listing. */
  private icon(url: string): Promise<string | null> {
    let p = this.icons.get(url);
    if (!p) {
      p = fetchSmall(url, MAX_ICON_BYTES, this.http).then(
        (r) => {
          const mime = r ? imageMimeOf(r.body) : null;
          return r && mime ? `data:${mime};base64,${r.body.toString('base64')}` : null;
        },
        (err: unknown) => {
          this.log(`icon ${url}: ${(err as Error).message}`);
          return null;
        },
      );
      this.icons.set(url, p);
    }
    return p;
  }
}
