import type { JobFinishedEvent } from '../../../shared/job-events';
import { formatBytes } from '../../../shared/units';
import { prepareFolderRestore, runFolderRestore } from '../../engine/jobs/folder-restore-job';
import { describeLayout, describeStorage } from '../../engine/jobs/layout-lines';
import { confirmErase } from '../confirm';
import { withCancel } from '../run-job';
import type { Output } from '../output';
import { mountedNotes, reportingUnmounts } from '../unmount-notice';

/** restore.ts's closing report (passed in: restore.ts imports this file). */
type ReportCopies = (out: Output, result: JobFinishedEvent, verb: { done: string; checked: string }) => number;

/** `imprint restore FOLDER[#GEN] TARGET...`: writes a generation back. */
export async function restoreFromFolder(ref: string, targets: string[], opts: { yes: boolean; verify: boolean; wipeFreeSpace: boolean; stdinCancel: boolean; passphrase: string | null }, out: Output, reportCopies: ReportCopies): Promise<number> {
  const prepared = await prepareFolderRestore(ref, targets, opts.passphrase);
  const m = prepared.index.metadata;
  if (!out.json) {
    const drive = [m.source.model, m.source.serial && `serial ${m.source.serial}`].filter(Boolean).join(', ');
    out.info(`Backup: ${prepared.folder}, generation ${prepared.index.id}, taken ${m.createdAt} of ${m.source.device}${drive ? ` (${drive})` : ''}, ${formatBytes(m.size)}`);
    out.info(`  SHA-256 of the stored data: ${m.sha256}`);
    for (const l of describeLayout({ partitionTable: m.partitionTable, filesystem: m.filesystem })) out.info(`  ${l}`);
    if (m.storage) for (const l of describeStorage(m.storage)) out.info(`  ${l}`);
  }
  const lines = ['These will be ERASED:'];
  for (const t of prepared.targets) {
    lines.push(t.drive ? `  ${t.path}  ${formatBytes(t.drive.size)}  ${t.drive.description}` : `  ${t.path}  (file)`);
    for (const w of t.warnings) lines.push(`  note: ${w}`);
    lines.push(...mountedNotes(t));
  }
  await confirmErase(lines, opts.yes);
  const result = await withCancel(out, (signal) => runFolderRestore(prepared, { verify: opts.verify, wipeFreeSpace: opts.wipeFreeSpace, signal, onEvent: reportingUnmounts(out, prepared.targets, (e) => out.event(e)) }), { stdinCancel: opts.stdinCancel });
  if (!out.json) for (const n of result.details?.kind === 'restore' ? (result.details.notes ?? []) : []) out.info(n);
  return reportCopies(out, result, { done: 'restored', checked: `, the ${formatBytes(m.storage?.storedBytes ?? m.size)} stored, against the recorded checksums` });
}
