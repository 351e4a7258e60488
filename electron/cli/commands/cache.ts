import { parseArgs } from 'util';
import { formatBytes } from '../../../shared/units';
import { ImprintError } from '../../engine/errors';
import { downloadCache } from '../net-settings';
import type { Command } from '../commands';

export const cacheCommand: Command = {
  help: `Usage: imprint cache list|clear [--json]

Images flashed from a URL are kept, verified, in the download cache
(IMPRINT_CACHE_DIR, else $XDG_CACHE_HOME/imprint or ~/.cache/imprint;
~/Library/Caches/Imprint on macOS; %LOCALAPPDATA%\\Imprint\\Cache on Windows),
checked by SHA-256 before each reuse, oldest out beyond 10 GiB
(IMPRINT_CACHE_MAX_BYTES).
  list   what the cache holds
  clear  remove everything in it`,
  async run(args, out) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
    const cache = downloadCache(false) as NonNullable<ReturnType<typeof downloadCache>>;
    const [verb] = positionals;
    if (verb === 'list') {
      const entries = cache.list();
      for (const e of entries) {
        if (values.json) out.result('', { type: 'cache-entry', url: e.url, file: e.path, sha256: e.sha256, ...(e.crc32 ? { crc32ChunkSize: e.crc32.chunkSize } : {}), size: e.size, storedAt: new Date(e.storedAt).toISOString(), usedAt: new Date(e.usedAt).toISOString() });
        else out.result(`${e.name}  ${formatBytes(e.size)}  last used ${new Date(e.usedAt).toISOString().slice(0, 16).replace('T', ' ')}\n    ${e.url}\n    ${e.sha256 ? `sha256 ${e.sha256}` : `checked by the CRC-32 of each ${formatBytes(e.crc32?.chunkSize ?? 0)} piece`}`);
      }
      if (!values.json) out.info(`${entries.length} download${entries.length === 1 ? '' : 's'}, ${formatBytes(entries.reduce((s, e) => s + e.size, 0))}, in ${cache.dir}`);
      return 0;
    }
    if (verb === 'clear') {
      const r = cache.clear();
      if (values.json) out.result('', { type: 'cache-cleared', entries: r.entries, bytes: r.bytes });
      else out.result(`Removed ${r.entries} download${r.entries === 1 ? '' : 's'} (${formatBytes(r.bytes)}) from ${cache.dir}.`);
      return 0;
    }
    throw new ImprintError('E_BAD_ARGUMENTS', 'Usage: imprint cache list|clear (see imprint cache --help)');
  },
};
