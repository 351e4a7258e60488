import { formatBytes } from '../../../shared/units';
import { isLarge } from '../../../shared/drive-constraints';
import { ImprintError } from '../../engine/errors';
import { displayName, type CatalogueImage } from '../../engine/catalogues/catalogue';
import { prepareUrlFlash, runUrlFlash } from '../../engine/jobs/flash-url-job';
import { redact } from '../../engine/net/url-policy';
import { confirmErase } from '../confirm';
import { downloadCache, downloadLimits, httpOptions } from '../net-settings';
import { engineSettings, reportFinished, withCancel, stallTimeoutMs, writeSettings } from '../run-job';
import type { Output } from '../output';
import { findInCatalogues } from './catalogue';

export interface WebFlashArgs {
  /** The image's URL, or null with `os`. */
  url: string | null;
  os: string | null;
  catalogues: string[];
  targets: string[];
  sha256: string | null;
  yes: boolean;
  verify: boolean;
  allowHttp: boolean;
  noCache: boolean;
  giveUpAfter: string | undefined;
  stdinCancel: boolean;
}

export function isUrlArgument(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

/** `imprint flash URL TARGET...` and `imprint flash --os NAME TARGET...`. */
export async function flashFromWeb(a: WebFlashArgs, out: Output): Promise<number> {
  if (a.targets.length === 0) throw new ImprintError('E_BAD_ARGUMENTS', 'Usage: imprint flash URL TARGET... or imprint flash --os "NAME" TARGET... (see imprint flash --help)');
  const http = httpOptions(a.allowHttp);
  let entry: CatalogueImage | null = null;
  let url = a.url;
  if (a.os !== null) {
    entry = await findInCatalogues(a.os, a.catalogues, http, out);
    url = entry.url;
    out.info(`Catalogue entry: ${displayName(entry)}${entry.releaseDate ? ` (${entry.releaseDate})` : ''}`);
  }
  if (url === null) throw new ImprintError('E_BAD_ARGUMENTS', 'Give a URL or --os "NAME".');
  const prepared = await prepareUrlFlash(
    { url, targets: a.targets, sha256: a.sha256, entry, http, cache: downloadCache(a.noCache), download: downloadLimits(a.giveUpAfter), decoders: engineSettings().decoders },
    (m) => out.info(`warning: ${m}`),
  );
  out.info(`Image: ${redact(prepared.url)}${prepared.cached ? ' (in the download cache)' : ''}${entry?.extractSize ? `, ${formatBytes(entry.extractSize)} uncompressed` : ''}`);
  out.info(prepared.checksum ? `Checking it against the SHA-256 from ${prepared.checksum.from}.` : 'No published checksum was found: the download is checked for completeness only.');
  const lines = ['These will be ERASED:'];
  for (const t of prepared.targets) {
    lines.push(t.drive ? `  ${t.path}  ${formatBytes(t.drive.size)}  ${t.drive.description}` : `  ${t.path}  (file)`);
    if (t.drive && isLarge(t.drive)) lines.push(`  WARNING: ${t.path} is ${formatBytes(t.drive.size)}: that is rarely a USB stick or SD card. Is it really the drive you mean?`);
    for (const w of t.warnings) if (!w.includes('larger than')) lines.push(`  note: ${w}`);
  }
  await confirmErase(lines, a.yes);
  const result = await withCancel(out, (signal) => runUrlFlash(prepared, { ...writeSettings(), stallTimeoutMs: stallTimeoutMs(), verify: a.verify, signal, onEvent: (e) => out.event(e) }), { stdinCancel: a.stdinCancel });
  return reportFinished(out, result);
}
