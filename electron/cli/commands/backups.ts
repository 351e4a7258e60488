import { parseArgs } from 'util';
import { EXIT } from '../../../shared/error-codes';
import { formatBytes } from '../../../shared/units';
import { ImprintError } from '../../engine/errors';
import { listFolder, verifyFolder } from '../../engine/jobs/folder-verify';
import { exportGeneration } from '../../engine/jobs/folder-export';
import { pruneFolder } from '../../engine/jobs/folder-prune';
import { changeFolderPassphrase } from '../../engine/jobs/folder-passphrase';
import { parseFolderRef } from '../../engine/jobs/folder-restore-job';
import { isEncryptedFolder } from '../../engine/formats/backup-folder/folder-keys';
import { withCancel } from '../run-job';
import { progressEvents } from '../progress-events';
import type { Output } from '../output';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { NEW_PASSPHRASE_OPTIONS, PASSPHRASE_HELP, PASSPHRASE_OPTIONS, newPassphrase, passphraseFor } from '../passphrase';
import { killPointFromEnv } from '../test-kill-point';

/** `imprint backups list|verify FOLDER`: what a backup folder holds, and whether all of it can be restored. */

function list(folder: string, passphrase: string | null, out: Output): number {
  const rows = listFolder(folder, passphrase);
  if (out.json) {
    out.result('', { type: 'backup-folder', folder, generations: rows });
    return EXIT.ok;
  }
  if (rows.length === 0) {
    out.result(`${folder} holds no generation yet.`);
    return EXIT.ok;
  }
  out.result(`${'#'.padStart(3)}  ${'generation'.padEnd(24)}  ${'taken (UTC)'.padEnd(20)}  ${'drive'.padEnd(28)}  ${'size'.padStart(10)}  ${'stored'.padStart(10)}  ${'new data'.padStart(10)}`);
  for (const r of rows) {
    if (r.error) {
      out.result(`${String(r.number).padStart(3)}  ${r.id.padEnd(24)}  DAMAGED: ${r.error}`);
      continue;
    }
    const drive = [r.device, r.model].filter(Boolean).join(' ').slice(0, 28);
    const taken = (r.createdAt ?? '').replace('T', ' ').replace(/\.\d+Z$/, '');
    out.result(
      `${String(r.number).padStart(3)}  ${r.id.padEnd(24)}  ${taken.padEnd(20)}  ${drive.padEnd(28)}  ${formatBytes(r.size ?? 0).padStart(10)}  ${formatBytes(r.storedBytes ?? 0).padStart(10)}  ${formatBytes(r.addedStoredBytes ?? 0).padStart(10)}`,
    );
  }
  out.info('stored: drive data the generation holds; new data: what it added to the folder (compressed).');
  return EXIT.ok;
}

async function verify(folder: string, passphrase: string | null, out: Output): Promise<number> {
  // Progress for people only: with --json, stdout carries the one result object.
  const onProgress = out.json ? undefined : progressEvents(out, 'backups-verify', 'verifying');
  const result = await withCancel(out, (signal) => verifyFolder(folder, { passphrase, signal, ...(onProgress ? { onProgress } : {}) }));
  out.done();
  if (out.json) {
    out.result('', { type: 'backup-folder-verified', folder, ...result });
    return result.ok ? EXIT.ok : EXIT.failed;
  }
  out.result(`${folder}: ${result.generations} generations, ${result.pieces} distinct pieces read (${formatBytes(result.bytes)} of drive data, ${formatBytes(result.storedBytes)} in the folder).`);
  for (const d of result.damagedIndexes) out.result(`  generation ${d.number} (${d.id}): index damaged: ${d.error}`);
  for (const p of result.problems) {
    const where = p.affects.map((a) => `generation ${a.number} (${a.id}) drive bytes ${a.ranges.map(([s, l]) => `${s}-${s + l}`).join(', ')}`).join('; ');
    out.result(`  ${p.detail}: affects ${where}`);
  }
  if (result.ok) out.result('Every generation can be restored: every piece is present and holds the data it is named by.');
  else out.result(`NOT restorable: ${result.unrestorable.map((g) => `generation ${g.number} (${g.id})`).join(', ')}.`);
  return result.ok ? EXIT.ok : EXIT.failed;
}

async function exportOne(ref: string, output: string, force: boolean, passphrase: string | null, out: Output): Promise<number> {
  const r = await withCancel(out, (signal) => exportGeneration(ref, output, { force, signal, passphrase }));
  if (out.json) out.result('', { type: 'backup-exported', ...r });
  else {
    out.result(`Generation ${r.generation} exported to ${r.output} (${formatBytes(r.fileBytes)}, a standard seekable zstd smart backup)`);
    out.info(`  Description: ${r.sidecar} (also stored inside the file); imprint restore ${r.output} TARGET writes it back.`);
    if (passphrase !== null && isEncryptedFolder(parseFolderRef(ref)?.folder ?? ref)) out.info('  Note: the exported file is not encrypted (a standard backup anyone can read): keep it somewhere safe.');
  }
  return EXIT.ok;
}

function prune(folder: string, values: Record<string, string | boolean | undefined>, passphrase: string | null, out: Output): number {
  const count = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (typeof v !== 'string' || !/^\d+$/.test(v) || n < 1) throw new ImprintError('E_BAD_ARGUMENTS', `--${name} takes a whole number of at least 1; got "${String(v)}".`);
    return n;
  };
  const r = pruneFolder(folder, { keepLast: count('keep-last'), keepDaily: count('keep-daily'), keepWeekly: count('keep-weekly') }, passphrase, { onStep: killPointFromEnv(process.env) });
  if (out.json) out.result('', { type: 'backup-folder-pruned', folder, ...r });
  else {
    out.result(`${folder}: kept ${r.kept.length} generations, removed ${r.removed.length}${r.removed.length ? ` (${r.removed.join(', ')})` : ''}; ${r.piecesRemoved} pieces no kept generation needs were deleted (${formatBytes(r.bytesFreed)} freed).`);
  }
  return EXIT.ok;
}

async function passphrase(folder: string, values: Record<string, string | boolean | undefined>, out: Output): Promise<number> {
  const current = await passphraseFor(folder, values);
  const r = changeFolderPassphrase(folder, current, await newPassphrase(folder, values));
  if (out.json) out.result('', { type: 'backup-folder-passphrase-changed', folder: r.folder });
  else out.result(`${folder} now opens with the new passphrase only. Nothing else in it changed: its pieces and generations are as they were.`);
  return EXIT.ok;
}

export const backupsCommand: Command = {
  help: `Usage: imprint backups list FOLDER [--json]
       imprint backups verify FOLDER [--json]
       imprint backups export FOLDER[#GEN] OUT.img.zst [--force] [--json]
       imprint backups prune FOLDER --keep-last N [--keep-daily N] [--keep-weekly N] [--json]
       imprint backups passphrase FOLDER [--new-passphrase-file F | --new-passphrase-env NAME] [--json]

A backup folder (made by imprint backup DEVICE --into FOLDER) keeps every
backup of one or more drives as a generation; data shared between
generations or drives is stored once.
  list     the generations: number, id, date, drive, size, stored, and the
           new data each added to the folder
  verify   reads every piece every generation needs and checks it against
           its SHA-256; a missing or damaged piece is reported with the
           generations and drive ranges it affects (exit 1)
  export   one generation (the latest unless #GEN: an id or a list number)
           as an ordinary standalone backup file, as imprint backup DEVICE
           OUT.img.zst makes it (zstd -dc OUT.img.zst gives the drive image)
  prune    removes the generations no rule keeps (each drive of the folder
           on its own: the newest N; the newest of each of the last N days;
           of each of the last N weeks), then the pieces no remaining
           generation needs; safe to interrupt
  passphrase  changes an encrypted folder's passphrase (the new one from
           --new-passphrase-file F or --new-passphrase-env NAME, or asked
           twice on a terminal); only the folder's marker is rewritten
  --force  replace OUT.img.zst if it exists
  --json   one JSON object on stdout
${PASSPHRASE_HELP}
An encrypted folder needs its passphrase for every action; a wrong one
exits 3, having read nothing else. An export is a plain file (not encrypted).`,
  async run(args, out) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, force: { type: 'boolean' }, 'keep-last': { type: 'string' }, 'keep-daily': { type: 'string' }, 'keep-weekly': { type: 'string' }, ...PASSPHRASE_OPTIONS, ...NEW_PASSPHRASE_OPTIONS } });
    const action = positionals[0];
    if (action !== 'passphrase' && Object.keys(NEW_PASSPHRASE_OPTIONS).some((k) => values[k as keyof typeof values] !== undefined)) {
      throw new ImprintError('E_BAD_ARGUMENTS', '--new-passphrase-file and --new-passphrase-env are for imprint backups passphrase FOLDER.');
    }
    if (action === 'export') {
      const [, ref, output] = positionalArgs('backups', positionals, 'export FOLDER[#GEN] OUT.img.zst') as [string, string, string];
      return exportOne(ref, output, values.force === true, await passphraseFor(parseFolderRef(ref)?.folder ?? ref, values), out);
    }
    const [, folder] = positionalArgs('backups', positionals, 'ACTION FOLDER') as [string, string];
    if (action === 'list') return list(folder, await passphraseFor(folder, values), out);
    if (action === 'verify') return verify(folder, await passphraseFor(folder, values), out);
    if (action === 'prune') return prune(folder, values, await passphraseFor(folder, values), out);
    if (action === 'passphrase') return passphrase(folder, values, out);
    throw new ImprintError('E_BAD_ARGUMENTS', `imprint backups takes list, verify, prune, export or passphrase; got "${action}".`);
  },
};
