import { FieldError, isObject, link, sha256, size, text } from './catalogue-fields';
import type { CatalogueImage, CatalogueItem } from './catalogue';

/**
 * Fedora Media Writer's releases.json (fedoraproject.org/releases.json, read
 * by FedoraQt/MediaWriter): a list of files, each
 * `{ version, arch, link, variant, subvariant, sha256, size }` with `size` a
 * string of digits and `sha256` of the file as downloaded. Only what can be
 * written to a drive is offered (.iso, .raw.xz), in one folder per variant,
 * as Media Writer does; cloud disks, containers and Vagrant boxes are not
 * for USB sticks and are passed over silently.
 */
const FLASHABLE = /\.(iso|raw\.xz)$/i;
export const MAX_RELEASE_FILES = 5000;

export function parseFedoraReleases(json: unknown, origin: string): { items: CatalogueItem[]; problems: string[] } {
  if (!Array.isArray(json)) throw new FieldError('it is not a JSON list');
  const byVariant = new Map<string, CatalogueImage[]>();
  const problems: string[] = [];
  json.slice(0, MAX_RELEASE_FILES).forEach((raw, i) => {
    const where = `${origin}[${i}]`;
    if (!isObject(raw)) {
      problems.push(`${where}: an entry must be an object.`);
      return;
    }
    const label = typeof raw.link === 'string' ? `${where} (${raw.link.split('/').pop()?.slice(0, 80)})` : where;
    try {
      const url = link(raw, 'link', null, { required: true }) as string;
      if (!FLASHABLE.test(new URL(url).pathname)) return;
      const version = text(raw, 'version', { required: true, max: 40 });
      const arch = text(raw, 'arch', { required: true, max: 40 });
      const variant = text(raw, 'variant', { required: true, max: 80 });
      const subvariant = text(raw, 'subvariant', { max: 80 }) ?? variant;
      const digest = sha256(raw, 'sha256');
      if (digest === null) throw new FieldError('"sha256" is missing');
      const kind = /\.iso$/i.test(url) ? 'ISO image' : 'disk image (.raw.xz)';
      const image: CatalogueImage = {
        kind: 'image',
        name: `Fedora ${subvariant.replace(/_/g, ' ')} ${version} ${arch}`,
        description: `${variant}, ${arch}, ${kind}`,
        url,
        icon: null,
        releaseDate: text(raw, 'releaseDate', { max: 40 }),
        downloadSize: size(raw, 'size', { digitsAsText: true }),
        downloadSha256: digest,
        extractSize: null,
        extractSha256: null,
        website: null,
        path: [variant],
        origin: where,
      };
      const list = byVariant.get(variant) ?? [];
      list.push(image);
      byVariant.set(variant, list);
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      problems.push(`${label}: ${err.message}; entry left out.`);
    }
  });
  if (json.length > MAX_RELEASE_FILES) problems.push(`${origin}: more than ${MAX_RELEASE_FILES} entries; the rest are left out.`);
  const items: CatalogueItem[] = [...byVariant].map(([variant, images]) => ({ kind: 'folder', name: variant, description: '', icon: null, path: [], origin, items: images, subitemsUrl: null }));
  return { items, problems };
}
