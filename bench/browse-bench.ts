import * as fs from 'fs';
import * as path from 'path';
import { CACHE_ROOT, IMPRINT_CLI, MiB } from './bench-config';
import { bash, exec, haveTool, mustExec } from './exec';
import { atLeast, fmtRate, table, type TargetCheck } from './report';
import { ensureSmartDrive, SMART_DRIVE_FILE, SMART_PARTITIONS } from './smart-drive-builder';

/**
 * Issue 16's benchmark: looking inside the smart-backup bench drive's Imprint
 * backup (seekable zstd) without restoring it. Listing the root of each
 * partition must take under 1 s (the whole `imprint ls` command, Node's
 * start-up included); extracting large files must run at least half as fast
 * as `zstd -dc` of the whole backup, which shows it decodes only the frames
 * it needs. `7z l` of the raw drive image is printed beside as a reference.
 */

/** Large files of the bench drive (smart-drive-builder.ts), one per filesystem: 140 MiB in all (the drive has no single 150 MiB file). */
const BIG_FILES = ['1:/data.bin', '2:/photo.bin', '3:/video.bin'];

export async function runBrowseBench(log: (s: string) => void): Promise<{ text: string; checks: TargetCheck[] }> {
  const driveFile = await ensureSmartDrive(log);
  const dir = path.join(CACHE_ROOT, 'browse-v1');
  fs.mkdirSync(dir, { recursive: true });
  const backup = path.join(dir, 'drive.img.zst');
  if (!fs.existsSync(backup) || fs.statSync(backup).mtimeMs < fs.statSync(SMART_DRIVE_FILE).mtimeMs) {
    log('Backing up the bench drive for the browse bench (once; cached)...');
    const dev = (await mustExec(['losetup', '-f', '--show', '-r', '--direct-io=on', driveFile])).stdout.trim();
    try {
      fs.rmSync(backup, { force: true });
      const r = await exec([process.execPath, IMPRINT_CLI, 'backup', dev, backup, '--yes', '--json']);
      if (r.code !== 0) throw new Error(`imprint backup failed: ${r.stderr.slice(-500)}`);
    } finally {
      await mustExec(['losetup', '-d', dev]);
    }
  }
  const rows: string[][] = [];
  const checks: TargetCheck[] = [];
  for (let n = 1; n <= SMART_PARTITIONS.length; n++) {
    const r = await exec([process.execPath, IMPRINT_CLI, 'ls', backup, `${n}:/`, '--json']);
    const entries = r.stdout.split('\n').filter((l) => l.startsWith('{"type":"entry"')).length;
    rows.push([`imprint ls BACKUP ${n}:/ (${SMART_PARTITIONS[n - 1]!.fs})`, r.seconds.toFixed(2), r.code === 0 ? `${entries} entries` : `failed: ${r.stderr.slice(-200)}`]);
    checks.push({ target: `ls of partition ${n}'s root < 1 s (issue 16)`, measured: `${r.seconds.toFixed(2)} s`, pass: r.code === 0 && r.seconds < 1 });
  }
  if (haveTool('7zz')) {
    const z = await exec(['7zz', 'l', driveFile]);
    rows.push(['7zz l drive.img (raw image, reference)', z.seconds.toFixed(2), z.code === 0 ? 'partitions only' : 'failed']);
  }
  const out = path.join(dir, `extract-${process.pid}`);
  fs.rmSync(out, { recursive: true, force: true });
  let extractRate: number | null = null;
  try {
    const x = await exec([process.execPath, IMPRINT_CLI, 'extract', backup, ...BIG_FILES, out, '--json']);
    const bytes = BIG_FILES.map((f) => path.join(out, path.basename(f))).reduce((s, f) => s + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
    extractRate = x.code === 0 ? bytes / x.seconds : null;
    rows.push([`imprint extract BACKUP ${BIG_FILES.join(' ')} (${(bytes / MiB).toFixed(0)} MiB)`, x.seconds.toFixed(2), x.code === 0 ? `${fmtRate((extractRate ?? 0) / 1e6)} MB/s of files` : `failed: ${x.stderr.slice(-200)}`]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  const z = await bash('zstd -dc -- "$1" > /dev/null', [backup]);
  const content = fs.statSync(SMART_DRIVE_FILE).size;
  const zstdRate = z.code === 0 ? content / z.seconds : null;
  rows.push(['zstd -dc BACKUP > /dev/null (whole drive)', z.seconds.toFixed(2), zstdRate === null ? 'failed' : `${fmtRate(zstdRate / 1e6)} MB/s of drive`]);
  checks.push(atLeast('extract >= 0.5x zstd -dc speed (issue 16)', extractRate, zstdRate, 0.5));
  return { text: table(['step', 'seconds', 'result'], rows), checks };
}
