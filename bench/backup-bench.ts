import * as fs from 'fs';
import * as path from 'path';
import { CACHE_ROOT, IMAGE_SIZE, IMPRINT_CLI, TARGET_SIZE } from './bench-config';
import { bash, exec, mustExec } from './exec';
import type { BenchImage } from './image-builder';
import { attachLoopTarget, hashDevice, scrambleDevice } from './loop-target';
import type { Measurement } from './peers';
import { atLeast, fmtRate, okSeconds, rate, table, type TargetCheck } from './report';

export interface BackupBenchOptions {
  runs: number;
  log: (s: string) => void;
}

interface Sized extends Measurement {
  /** Bytes of the backup file written. */
  bytes: number | null;
}

const lastLine = (s: string): string => s.trim().split('\n').pop()?.slice(0, 300) ?? '';

/** An Imprint CLI job (`backup` or `restore`): wall time, peak RSS, whether its last event says ok. */
async function imprintJob(args: string[]): Promise<Measurement> {
  const r = await exec([process.execPath, IMPRINT_CLI, ...args, '--yes', '--json'], { rss: true });
  let ok = r.code === 0;
  let error: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { type?: string; ok?: boolean; error?: { message?: string } };
    if (e.type === 'job-finished' || e.type === 'error') {
      ok = ok && e.ok === true;
      error = e.error?.message;
    }
  }
  return { ok, seconds: r.seconds, writeSeconds: null, peakRssKiB: r.peakRssKiB, ...(ok ? {} : { error: error ?? (lastLine(r.stderr) || `exit ${r.code}`) }) };
}

const sizeOf = (p: string): number | null => (fs.existsSync(p) ? fs.statSync(p).size : null);

/**
 * Issue 4's benchmark: back up a 1 GiB drive about 40% used (the flash
 * image written to a loop device) with Imprint and with `dd | zstd -T0` and
 * `dd | gzip`; restore Imprint's backup with Imprint and with `zstdcat | dd`.
 * Every restore in the first round is checked by hashing the target.
 */
export async function runBackupBench(image: BenchImage, opts: BackupBenchOptions): Promise<{ text: string; checks: TargetCheck[] }> {
  const outDir = path.join(CACHE_ROOT, `backup-out-${process.pid}`);
  fs.mkdirSync(outDir, { recursive: true });
  const source = await attachLoopTarget('backup-source', IMAGE_SIZE);
  const imprintOut = path.join(outDir, 'imprint-backup.img.zst');
  const zstdOut = path.join(outDir, 'dd-zstd.img.zst');
  const gzipOut = path.join(outDir, 'dd-gzip.img.gz');
  const backup: Record<'imprint' | 'zstd' | 'gzip', Sized[]> = { imprint: [], zstd: [], gzip: [] };
  const restore: Record<'imprint' | 'imprintNoVerify' | 'pipeline', Measurement[]> = { imprint: [], imprintNoVerify: [], pipeline: [] };
  const content: Record<string, string> = {};
  let target: Awaited<ReturnType<typeof attachLoopTarget>> | null = null;
  try {
    await mustExec(['dd', `if=${image.files.raw.path}`, `of=${source.device}`, 'bs=4M', 'oflag=direct', 'conv=fsync', 'status=none']);
    target = await attachLoopTarget('restore-target', TARGET_SIZE);
    opts.log(`Source drive: ${source.device} (the ${image.rootUsedPercent}%-full OS image); restore target: ${target.device}`);
    const dev = target.device;
    for (let round = 0; round < opts.runs; round++) {
      for (const p of [imprintOut, `${imprintOut}.json`]) fs.rmSync(p, { force: true });
      const steps: [string, () => Promise<Measurement>, (m: Measurement) => void][] = [
        // Sector by sector: this section compares whole-drive backups (the smart one has its own section).
        ['imprint backup', () => imprintJob(['backup', source.device, imprintOut, '--sector-by-sector']), (m) => backup.imprint.push({ ...m, bytes: sizeOf(imprintOut) })],
        ['dd | zstd -T0', () => pipe('dd if="$1" iflag=direct bs=4M status=none | zstd -q -T0 -c > "$2"', [source.device, zstdOut]), (m) => backup.zstd.push({ ...m, bytes: sizeOf(zstdOut) })],
        ['dd | gzip', () => pipe('dd if="$1" iflag=direct bs=4M status=none | gzip -c > "$2"', [source.device, gzipOut]), (m) => backup.gzip.push({ ...m, bytes: sizeOf(gzipOut) })],
      ];
      for (const [name, run, keep] of steps) {
        const m = await run();
        keep(m);
        opts.log(`  round ${round + 1} ${name.padEnd(24)} ${m.seconds.toFixed(2).padStart(6)} s${m.ok ? '' : `  FAILED: ${m.error ?? ''}`}`);
      }
      const restoreFrom = fs.existsSync(imprintOut) ? imprintOut : zstdOut;
      const restores: [string, string, () => Promise<Measurement>, Measurement[]][] = [
        ['imprint restore', 'imprint', () => imprintJob(['restore', restoreFrom, dev]), restore.imprint],
        ['imprint restore --no-verify', 'imprintNoVerify', () => imprintJob(['restore', restoreFrom, dev, '--no-verify']), restore.imprintNoVerify],
        ['zstdcat | dd', 'pipeline', () => pipe('zstdcat "$1" | dd of="$2" bs=4M iflag=fullblock oflag=direct conv=fsync status=none', [restoreFrom, dev]), restore.pipeline],
      ];
      for (const [name, key, run, list] of restores) {
        if (round === 0) await scrambleDevice(dev, image.size);
        const m = await run();
        list.push(m);
        if (round === 0) content[key] = (await hashDevice(dev, image.size)) === image.sha256 ? 'ok' : 'target does not hold the drive';
        opts.log(`  round ${round + 1} ${name.padEnd(24)} ${m.seconds.toFixed(2).padStart(6)} s${m.ok ? '' : `  FAILED: ${m.error ?? ''}`}${round === 0 && content[key] !== 'ok' ? `  CONTENT: ${content[key]}` : ''}`);
      }
    }
  } finally {
    await target?.detach();
    await source.detach();
    fs.rmSync(outDir, { recursive: true, force: true });
  }

  const size = image.size;
  const mib = (b: number | null | undefined): string => (b == null ? '-' : (b / 2 ** 20).toFixed(1));
  const rss = (ms: Measurement[]): string => {
    const k = Math.max(0, ...ms.map((m) => m.peakRssKiB ?? 0));
    return k > 0 ? (k / 1024).toFixed(0) : '-';
  };
  const rates = {
    imprint: rate(size, okSeconds(backup.imprint)),
    zstd: rate(size, okSeconds(backup.zstd)),
    gzip: rate(size, okSeconds(backup.gzip)),
    restore: rate(size, okSeconds(restore.imprint)),
    restoreNoVerify: rate(size, okSeconds(restore.imprintNoVerify)),
    pipeline: rate(size, okSeconds(restore.pipeline)),
  };
  const sizeImprint = backup.imprint.find((m) => m.ok)?.bytes ?? null;
  const sizeZstd = backup.zstd.find((m) => m.ok)?.bytes ?? null;
  const text = [
    `Drive: ${size} bytes, ext4 root ${image.rootUsedPercent}% used; MB/s = drive bytes / 10^6 / median wall seconds of ${opts.runs} run(s).`,
    '',
    table(
      ['backup', 'MB/s', 'output MiB', 'peak RSS MiB', 'note'],
      [
        ['imprint backup (zstd, verified)', fmtRate(rates.imprint), mib(sizeImprint), rss(backup.imprint), failures(backup.imprint)],
        ['dd iflag=direct | zstd -T0', fmtRate(rates.zstd), mib(sizeZstd), '-', failures(backup.zstd)],
        ['dd iflag=direct | gzip', fmtRate(rates.gzip), mib(backup.gzip.find((m) => m.ok)?.bytes), '-', failures(backup.gzip)],
      ],
    ),
    '',
    table(
      ['restore', 'MB/s', 'peak RSS MiB', 'content', 'note'],
      [
        ['imprint restore (verified)', fmtRate(rates.restore), rss(restore.imprint), content.imprint ?? '-', failures(restore.imprint)],
        ['imprint restore --no-verify', fmtRate(rates.restoreNoVerify), rss(restore.imprintNoVerify), content.imprintNoVerify ?? '-', failures(restore.imprintNoVerify)],
        ['zstdcat | dd oflag=direct', fmtRate(rates.pipeline), '-', content.pipeline ?? '-', failures(restore.pipeline)],
      ],
    ),
  ].join('\n');
  const checks: TargetCheck[] = [
    atLeast('backup at least as fast as dd | zstd -T0', rates.imprint, rates.zstd, 1),
    {
      target: 'backup no larger than dd | zstd -T0',
      measured: sizeImprint === null || sizeZstd === null ? 'not measured' : `${mib(sizeImprint)} MiB vs ${mib(sizeZstd)} MiB`,
      pass: sizeImprint === null || sizeZstd === null ? null : sizeImprint <= sizeZstd,
    },
    atLeast('restore (--no-verify) within 10% of zstdcat | dd', rates.restoreNoVerify, rates.pipeline, 0.9),
  ];
  return { text, checks };
}

async function pipe(script: string, args: string[]): Promise<Measurement> {
  const r = await bash(script, args);
  return { ok: r.code === 0, seconds: r.seconds, writeSeconds: null, peakRssKiB: null, ...(r.code === 0 ? {} : { error: lastLine(r.stderr) }) };
}

function failures(ms: Measurement[]): string {
  const bad = ms.filter((m) => !m.ok);
  return bad.length === 0 ? '' : `failed ${bad.length}/${ms.length}: ${bad[0]?.error ?? ''}`;
}
