import { parseArgs } from 'util';
import { formatBytes } from '../../../shared/units';
import { DEFAULT_CATALOGUES, displayName, matchesSearch, type CatalogueImage } from '../../engine/catalogues/catalogue';
import { allImages, findImage, loadCatalogue } from '../../engine/catalogues/load-catalogue';
import type { HttpOptions } from '../../engine/net/http-request';
import { httpOptions } from '../net-settings';
import type { Command } from '../commands';
import type { Output } from '../output';

export const catalogueCommand: Command = {
  help: `Usage: imprint catalogue [SOURCE] [--search WORDS] [--allow-http] [--json]

Lists the images an OS catalogue offers, to flash with
\`imprint flash --os "NAME" TARGET...\`. SOURCE is a URL or a file holding
Raspberry Pi Imager's OS list JSON or Fedora Media Writer's releases.json;
without it, both projects' public lists:
${DEFAULT_CATALOGUES.map((c) => `  ${c.name}: ${c.url}`).join('\n')}
Imprint fetches nothing until you run this (or flash from a URL).
  --search WORDS  only entries whose name, description or folder holds every word
  --allow-http    fetch a plain-http catalogue from outside the local network
  --json          one JSON object per entry on stdout`,
  async run(args, out) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { search: { type: 'string' }, json: { type: 'boolean' }, 'allow-http': { type: 'boolean' } } });
    const sources = positionals.length > 0 ? positionals : DEFAULT_CATALOGUES.map((c) => c.url);
    const http = { ...httpOptions(values['allow-http'] === true), onWarning: (m: string) => out.info(`warning: ${m}`) };
    let shown = 0;
    for (const source of sources) {
      const images = await imagesOf(source, http, out);
      for (const e of images.filter((i) => values.search === undefined || matchesSearch(i, values.search))) {
        shown++;
        if (out.json) out.result('', { type: 'catalogue-entry', catalogue: source, name: e.name, folder: e.path, description: e.description, url: e.url, releaseDate: e.releaseDate, downloadSize: e.downloadSize, extractSize: e.extractSize, downloadSha256: e.downloadSha256, extractSha256: e.extractSha256, icon: e.icon, website: e.website });
        else out.result(describe(e));
      }
    }
    if (!out.json && shown === 0) out.info(values.search === undefined ? 'The catalogue lists no images.' : `No entry matches "${values.search}".`);
    return 0;
  },
};

/** Every image of one catalogue (folders fetched), its problems told as notes. */
export async function imagesOf(source: string, http: HttpOptions, out: Output): Promise<CatalogueImage[]> {
  const onWarning = (m: string): void => out.info(`warning: ${m}`);
  const cat = await loadCatalogue(source, { http, onWarning });
  const images = await allImages(cat, { http, onWarning, expand: true });
  for (const p of cat.problems) out.info(`note: ${p}`);
  return images;
}

/** The one entry `name` picks across the catalogues given (or the defaults). */
export async function findInCatalogues(name: string, sources: string[], http: HttpOptions, out: Output): Promise<CatalogueImage> {
  const all: CatalogueImage[] = [];
  const problems: string[] = [];
  for (const s of sources.length > 0 ? sources : DEFAULT_CATALOGUES.map((c) => c.url)) {
    const cat = await loadCatalogue(s, { http, onWarning: (m) => out.info(`warning: ${m}`) });
    all.push(...(await allImages(cat, { http, expand: true })));
    problems.push(...cat.problems);
  }
  return findImage(all, name, problems);
}

function describe(e: CatalogueImage): string {
  const facts = [e.releaseDate, e.downloadSize !== null ? `download ${formatBytes(e.downloadSize)}` : null, e.extractSize !== null ? `image ${formatBytes(e.extractSize)}` : null].filter(Boolean);
  return `${displayName(e)}${facts.length ? `  (${facts.join(', ')})` : ''}${e.description ? `\n    ${e.description}` : ''}`;
}
