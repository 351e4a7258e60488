import * as fs from 'fs';
import * as path from 'path';
import { CACHE_ROOT, IMPRINT_CLI } from './bench-config';
import { bash, exec, mustExec } from './exec';
import { attachLoopTarget, flushDevice, settleWrites } from './loop-target';
import type { Measurement } from './peers';
import { atLeast, fmtRate, okSeconds, rate, table, type TargetCheck } from './report';
import { ensureSmartDrive, SMART_DRIVE_SIZE, SMART_PARTITIONS } from './smart-drive-builder';

/**
 * Issue 14's benchmark: a smart backup of a 3 GiB drive with ext4, FAT32 and
 * NTFS about 600 MiB in use and deleted files in its free space, beside what
 * Clonezilla does (partclone per partition, piped to zstd -T0) and beside
 * `dd | zstd -T0`; then Imprint's restore of its backup beside
 * `zstdcat | dd` of the whole-drive backup. Speeds are drive bytes per second.
 */
export interface SmartBenchOptions {
  runs: number;
  log: (s: string) => void;
}

const lastLine = (s: string): string => s.trim().split('\n').pop()?.slice(0, 300) ?? '';
const PARTCLONE: Record<string, string> = { ext4: 'partclone.extfs', fat32: 'partclone.fat32', ntfs: 'partclone.ntfs' };

async function imprint(args: string[]): Promise<Measurement> {
  const r = await exec([process.execPath, IMPRINT_CLI, ...args, '--yes', '--json'], { rss: true });
  const fin = r.stdout.split('\n').filter((l) => l.startsWith('{"type":"job-finished"')).pop();
  const ok = r.code === 0 && fin !== undefined && (JSON.parse(fin) as { ok?: boolean }).ok === true;
  return { ok, seconds: r.seconds, writeSeconds: null, peakRssKiB: r.peakRssKiB, ...(ok ? {} : { error: lastLine(r.stderr) || lastLine(r.stdout) }) };
}

async function shell(script: string, args: string[]): Promise<Measurement> {
  const r = await bash(script, args);
  return { ok: r.code === 0, seconds: r.seconds, writeSeconds: null, peakRssKiB: null, ...(r.code === 0 ? {} : { error: lastLine(r.stderr) }) };
}

const sizeOf = (files: string[]): number => files.reduce((n, f) => n + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);

export async function runSmartBackupBench(opts: SmartBenchOptions): Promise<{ text: string; checks: TargetCheck[] }> {
  const driveFile = await ensureSmartDrive(opts.log);
  const outDir = path.join(CACHE_ROOT, `smart-out-${process.pid}`);
  fs.mkdirSync(outDir, { recursive: true });
  // The cached drive, read-only: nothing here may change it.
  const dev = (await mustExec(['losetup', '-f', '--show', '-r', '--direct-io=on', driveFile])).stdout.trim();
  const target = await attachLoopTarget('smart-restore-target', SMART_DRIVE_SIZE);
  const runs: Record<'imprint' | 'partclone' | 'dd' | 'restore' | 'pipeline', Measurement[]> = { imprint: [], partclone: [], dd: [], restore: [], pipeline: [] };
  const sizes: Record<string, number> = {};
  try {
    await mustExec(['partx', '-a', dev]).catch(() => undefined);
    const imprintOut = path.join(outDir, 'imprint.img.zst');
    const ddOut = path.join(outDir, 'dd.img.zst');
    const pcOuts = SMART_PARTITIONS.map((p, i) => path.join(outDir, `p${i + 1}-${p.fs}.pc.zst`));
    for (let round = 0; round < opts.runs; round++) {
      for (const f of [imprintOut, `${imprintOut}.json`, ddOut, ...pcOuts]) fs.rmSync(f, { force: true });
      const steps: [string, keyof typeof runs, () => Promise<Measurement>][] = [
        ['imprint backup (smart, verified)', 'imprint', () => imprint(['backup', dev, imprintOut])],
        [
          'partclone -c | zstd -T0, per partition',
          'partclone',
          () =>
            shell(
              SMART_PARTITIONS.map((p, i) => `${PARTCLONE[p.fs]} -q -c -s "$1p${i + 1}" -o - 2>/dev/null | zstd -q -T0 -c > "$${i + 2}"`).join(' && '),
              [dev, ...pcOuts],
            ),
        ],
        ['dd | zstd -T0', 'dd', () => shell('dd if="$1" iflag=direct bs=4M status=none | zstd -q -T0 -c > "$2"', [dev, ddOut])],
        ['imprint restore (smart, verified)', 'restore', () => imprint(['restore', imprintOut, target.device])],
        ['zstdcat | dd of the dd backup', 'pipeline', () => shell('zstdcat "$1" | dd of="$2" bs=4M iflag=fullblock oflag=direct conv=fsync status=none', [ddOut, target.device])],
      ];
      for (const [name, key, run] of steps) {
        const m = await run();
        runs[key].push(m);
        await flushDevice(target.device);
        await settleWrites();
        opts.log(`  round ${round + 1} ${name.padEnd(40)} ${m.seconds.toFixed(2).padStart(6)} s${m.ok ? '' : `  FAILED: ${m.error ?? ''}`}`);
      }
      sizes.imprint = sizeOf([imprintOut]);
      sizes.partclone = sizeOf(pcOuts);
      sizes.dd = sizeOf([ddOut]);
    }
  } finally {
    await mustExec(['partx', '-d', dev]).catch(() => undefined);
    await mustExec(['losetup', '-d', dev]).catch(() => undefined);
    await target.detach();
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  const r = (k: keyof typeof runs): number | null => rate(SMART_DRIVE_SIZE, okSeconds(runs[k]));
  const mib = (b: number | undefined): string => (b === undefined ? '-' : (b / 2 ** 20).toFixed(1));
  const text = [
    `Drive: ${SMART_DRIVE_SIZE / 2 ** 20} MiB, GPT: ${SMART_PARTITIONS.map((p) => `${p.fs} ${p.size} MiB`).join(', ')}; about 600 MiB of files, deleted files in free space. MB/s = drive bytes / 10^6 / median wall seconds of ${opts.runs} run(s).`,
    '',
    table(
      ['backup', 'MB/s', 'output MiB'],
      [
        ['imprint backup (smart, zstd, read back and checked)', fmtRate(r('imprint')), mib(sizes.imprint)],
        ['partclone.<fs> -c | zstd -T0, each partition', fmtRate(r('partclone')), mib(sizes.partclone)],
        ['dd iflag=direct | zstd -T0', fmtRate(r('dd')), mib(sizes.dd)],
      ],
    ),
    '',
    table(
      ['restore', 'MB/s'],
      [
        ['imprint restore (smart backup, read back and checked)', fmtRate(r('restore'))],
        ['zstdcat | dd oflag=direct (whole-drive backup)', fmtRate(r('pipeline'))],
      ],
    ),
  ].join('\n');
  const checks: TargetCheck[] = [
    atLeast('smart backup at least as fast as partclone | zstd -T0', r('imprint'), r('partclone'), 1),
    atLeast('smart backup at least 2.5x dd | zstd -T0', r('imprint'), r('dd'), 2.5),
    {
      target: 'smart backup at most 1.05x partclone | zstd -T0 in size',
      measured: sizes.imprint && sizes.partclone ? `${mib(sizes.imprint)} MiB vs ${mib(sizes.partclone)} MiB (${(sizes.imprint / sizes.partclone).toFixed(3)}x)` : 'not measured',
      pass: sizes.imprint && sizes.partclone ? sizes.imprint <= sizes.partclone * 1.05 : null,
    },
    atLeast('smart restore at least 2x zstdcat | dd', r('restore'), r('pipeline'), 2),
  ];
  return { text, checks };
}
