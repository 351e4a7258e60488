import { parseArgs } from 'util';
import { formatBytes } from '../../../shared/units';
import { ImprintError } from '../../engine/errors';
import type { FileEntry } from '../../engine/disks/filesystem-driver';
import { BrowseSession, parsePartPath, walk } from '../../engine/jobs/browse-source';
import type { Command } from '../commands';
import { decodeProgress } from './browse-progress';
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, browsePassphrase } from '../passphrase';

export const lsCommand: Command = {
  help: `Usage: imprint ls SOURCE|FOLDER[#GEN] [PART:PATH] [--long] [--recursive|-R] [--json]

Lists what is inside an image, a backup, a backup folder's generation
(FOLDER#GEN, a list number or id; FOLDER alone is the latest) or a drive
without restoring it.
Read-only: nothing is ever written to SOURCE.

Without PART:PATH, lists the partitions: number, filesystem, label, size and
used space, and why Imprint cannot read a partition when it cannot. With
PART:PATH (the partition number as \`imprint info\` prints it, then a path:
1:/home/user), lists that folder. An image without a partition table is
partition 1.

  --long, -l       mode, size and modification time of each entry
  --recursive, -R  everything below the folder (at most ${128} folders deep;
                   a folder that contains itself is reported, not entered)
  --json           one JSON object per partition or entry

A backup made by Imprint, a raw image and a drive are read where needed; a
multi-block .xz through its block index; a .gz, .bz2, .zip or plain .zst has
no index and is decoded from the start (into a temporary file) as far as needed.
Exit codes: 0 listed, 1 the source could not be read, 2 bad input (no such
partition or path).
An encrypted backup folder needs its passphrase (exit 3 when wrong):
${PASSPHRASE_HELP}`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, long: { type: 'boolean', short: 'l' }, recursive: { type: 'boolean', short: 'R' }, ...PASSPHRASE_OPTIONS },
    });
    const [file, where, extra] = positionals;
    if (!file || extra) throw new ImprintError('E_BAD_ARGUMENTS', 'Usage: imprint ls SOURCE|FOLDER[#GEN] [PART:PATH] [--long] [-R]');
    const target = where === undefined ? null : parsePartPath(where);
    const session = await BrowseSession.open(file, { onDecodeProgress: decodeProgress(out), passphrase: await browsePassphrase(file, values) });
    try {
      if (session.source.note) out.info(`${file}: ${session.source.note}.`);
      if (!target) return await listPartitions(session, out);
      const view = await session.view(target.part);
      const warned = view.warnings.length;
      for (const w of view.warnings) out.info(`partition ${target.part}: ${w}`);
      const start = await session.resolve(view, target.part, target.path);
      const base = `/${target.path.split('/').filter((s) => s && s !== '.').join('/')}`;
      let problems = 0;
      const print = (names: string[], e: FileEntry, link: string | null): void => {
        const rel = names.join('/');
        const full = base === '/' ? `/${rel}` : `${base}/${rel}`;
        if (out.json) {
          out.result('', { type: 'entry', partition: target.part, path: full, name: e.name, kind: e.kind, size: e.size, mode: e.mode ?? null, mtimeMs: e.mtimeMs ?? null, ...(link !== null ? { target: link } : {}) });
          return;
        }
        const shown = JSON.stringify(e.name) === `"${e.name}"` ? (values.recursive ? full : rel) : JSON.stringify(values.recursive ? full : rel);
        const arrow = link !== null ? ` -> ${link}` : '';
        if (!values.long) out.result(`${shown}${e.kind === 'directory' ? '/' : ''}${arrow}`);
        else out.result(`${modeString(e)} ${String(e.size).padStart(12)} ${e.mtimeMs !== undefined ? new Date(e.mtimeMs).toISOString().replace('.000Z', 'Z') : '-'.padEnd(20)} ${shown}${arrow}`);
      };
      if (start.kind !== 'directory') {
        print([start.name], start, start.kind === 'symlink' ? await view.readlink(start).catch(() => null) : null);
        return 0;
      }
      const onProblem = (names: string[], message: string): void => {
        problems++;
        const rel = names.join('/');
        const full = base === '/' ? `/${rel}` : rel ? `${base}/${rel}` : base;
        if (out.json) out.result('', { type: 'problem', partition: target.part, path: full, message });
        else out.info(`${target.part}:${JSON.stringify(full)}: ${message}`);
      };
      for await (const item of walk(view, start, (p) => onProblem(p.names, p.message), { recursive: values.recursive === true })) {
        let link: string | null = null;
        if (item.entry.kind === 'symlink' && (values.long || out.json)) {
          try {
            link = await view.readlink(item.entry);
          } catch (err) {
            onProblem(item.names, `symlink target cannot be read: ${(err as Error).message}`);
          }
        }
        print(item.names, item.entry, link);
      }
      // What the reader noticed while listing (an entry left out, a folder listing itself).
      for (const w of view.warnings.slice(warned)) {
        if (out.json) out.result('', { type: 'warning', partition: target.part, message: w });
        else out.info(`partition ${target.part}: ${w}`);
      }
      if (out.json) out.result('', { type: 'done', problems });
      return problems > 0 ? 1 : 0;
    } finally {
      out.done();
      await session.close();
    }
  },
};

async function listPartitions(session: BrowseSession, out: Parameters<Command['run']>[1]): Promise<number> {
  const summaries = await session.summaries();
  for (const s of summaries) {
    if (out.json) {
      out.result('', { type: 'partition', ...s });
      continue;
    }
    const used = s.usedBytes !== null ? `, ${formatBytes(s.usedBytes)} used` : '';
    const what = s.filesystem ? `${s.filesystem}${s.label ? ` "${s.label}"` : ''}` : (s.typeName ?? 'unknown');
    out.result(`${s.number}: ${what}, ${formatBytes(s.size)}${used}${s.problem ? ` - ${s.problem}` : ''}`);
    for (const w of s.warnings) out.result(`   note: ${w}`);
  }
  if (!out.json) for (const s of summaries) if (s.problem) out.info(`partition ${s.number}: ${s.problem}`);
  return 0;
}

function modeString(e: FileEntry): string {
  const type = e.kind === 'directory' ? 'd' : e.kind === 'symlink' ? 'l' : e.kind === 'file' ? '-' : '?';
  if (e.mode === undefined) return `${type}?????????`;
  const bits = 'rwxrwxrwx';
  return type + [...bits].map((c, i) => ((e.mode! >> (8 - i)) & 1 ? c : '-')).join('');
}
