import * as fs from 'fs';
import { parseArgs } from 'util';
import { formatBytes } from '../../../shared/units';
import { ImprintError } from '../../engine/errors';
import { BrowseSession, parsePartPath } from '../../engine/jobs/browse-source';
import { ExtentCopier, copyThrough } from '../../engine/jobs/extract-copy';
import { Extractor, plannedBytes } from '../../engine/jobs/extract-files';
import type { Command } from '../commands';
import { decodeProgress } from './browse-progress';
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, browsePassphrase } from '../passphrase';

export const extractCommand: Command = {
  help: `Usage: imprint extract SOURCE|FOLDER[#GEN] PART:PATH... DEST [--force] [--json]

Copies files or whole folders out of an image, a backup or a drive into the
folder DEST (created if missing), without restoring it. Read-only toward SOURCE.
SOURCE may be a backup folder's generation, FOLDER#GEN (FOLDER alone is the latest).
PART:PATH is as \`imprint ls\` shows it (1:/home/user/notes.txt, 2:/ for a
whole partition).

Modification times are kept, and modes and symlinks where DEST's system allows.
Entries whose names cannot exist in DEST (a "/", "..", NUL, or on Windows
":" and the like) are reported and skipped, never renamed or written outside
DEST; so is a folder that contains itself. An existing file in DEST is never
replaced unless --force is given.

Exit codes: 0 everything extracted, 1 some entries were skipped or could not
be read, 2 bad input (no such partition or path).
An encrypted backup folder needs its passphrase (exit 3 when wrong):
${PASSPHRASE_HELP}`,
  async run(args, out) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, force: { type: 'boolean' }, ...PASSPHRASE_OPTIONS } });
    if (positionals.length < 3) throw new ImprintError('E_BAD_ARGUMENTS', 'Usage: imprint extract SOURCE PART:PATH... DEST');
    const file = positionals[0]!;
    const dest = positionals[positionals.length - 1]!;
    const wanted = positionals.slice(1, -1).map(parsePartPath);
    if (fs.existsSync(dest) && !fs.statSync(dest).isDirectory()) throw new ImprintError('E_BAD_ARGUMENTS', `${dest} exists and is not a folder.`);
    const began = process.hrtime.bigint();
    const session = await BrowseSession.open(file, { onDecodeProgress: decodeProgress(out), passphrase: await browsePassphrase(file, values) });
    const copier = ExtentCopier.for(session.source);
    try {
      if (session.source.note) out.info(`${file}: ${session.source.note}.`);
      // Every PART:PATH is found before anything is written: a typo refuses the whole command.
      const items = [];
      for (const w of wanted) {
        const view = await session.view(w.part);
        const entry = await session.resolve(view, w.part, w.path);
        items.push({ ...w, view, entry, bytes: await plannedBytes(view, entry) });
      }
      const total = items.reduce((s, i) => s + i.bytes, 0);
      fs.mkdirSync(dest, { recursive: true });
      const started = Date.now();
      let last = 0;
      let before = 0;
      const progress = (done: number, force = false): void => {
        const now = Date.now();
        if (!force && now - last < 100) return;
        last = now;
        const rate = done / Math.max(0.001, (now - started) / 1000);
        out.event({ type: 'progress', jobId: 'extract', phase: 'copying', bytesDone: done, totalBytes: total, bytesPerSecond: rate, etaSeconds: rate > 0 ? Math.max(0, (total - done) / rate) : null, targets: [] });
      };
      const totals = { files: 0, folders: 0, symlinks: 0, bytes: 0, problems: 0 };
      for (const item of items) {
        const ex = new Extractor(item.view, dest, {
          force: values.force === true,
          ...copyThrough(copier, session.partitions, item.part),
          onBytes: (b) => progress(before + b),
          onProblem: (p) => {
            if (out.json) out.result('', { type: 'problem', partition: item.part, path: p.path, message: p.message });
            else out.info(`${item.part}:${JSON.stringify(p.path)}: ${p.message}`);
          },
        });
        const warned = item.view.warnings.length;
        await ex.extract(item.entry, `/${item.path.split('/').filter((s) => s && s !== '.').join('/')}`);
        await ex.finish();
        for (const w of item.view.warnings.slice(warned)) {
          if (out.json) out.result('', { type: 'warning', partition: item.part, message: w });
          else out.info(`partition ${item.part}: ${w}`);
        }
        before += ex.totals.bytes;
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += ex.totals[k];
      }
      progress(before, true);
      out.done();
      // `seconds`: the command's own time, without Node's and the CLI's start-up (the bench reports both).
      if (out.json) out.result('', { type: 'extracted', dest, ...totals, seconds: Number(process.hrtime.bigint() - began) / 1e9 });
      else out.result(`Extracted ${totals.files} files, ${totals.folders} folders, ${totals.symlinks} symlinks (${formatBytes(totals.bytes)}) into ${dest}${totals.problems ? `; ${totals.problems} entries skipped or failed (listed above)` : ''}.`);
      return totals.problems > 0 ? 1 : 0;
    } finally {
      out.done();
      await session.close();
    }
  },
};
