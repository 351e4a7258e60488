/**
 * `npm run bench`: Imprint measured side by side with its peers on a 1 GiB
 * OS-like image (issue 2), and backup/restore (issue 4) once `imprint backup`
 * exists. Not a test: it prints figures, ratios and PASS/MISS per target.
 *
 *   npm run bench -- [--only raw,gz,xz,zst,zip] [--runs N] [--no-etcher]
 *                    [--no-flash] [--no-backup] [--no-smart] [--no-folders] [--no-browse] [--no-url]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { CACHE_ROOT, REPO_ROOT } from './bench-config';
import { exec, haveTool } from './exec';
import { runBackupBench } from './backup-bench';
import { runFlashBench } from './flash-bench';
import { runSmartBackupBench } from './smart-backup-bench';
import { runFolderBench } from './folder-bench';
import { runBrowseBench } from './browse-bench';
import { runUrlFlashBench } from './url-flash-bench';
import { ALL_FORMATS, ensureBenchImage, type BenchFormat } from './image-builder';
import { imprintHasCommand } from './peers';
import { targetsTable, type TargetCheck } from './report';

const REQUIRED_TOOLS = ['losetup', 'fallocate', 'sfdisk', 'mkfs.ext4', 'mkfs.vfat', 'dumpe2fs', 'gzip', 'xz', 'zstd', 'zip', 'unzip', 'openssl', 'sha256sum'];

function options(): { formats: BenchFormat[]; runs: number; etcher: boolean; flash: boolean; backup: boolean; smart: boolean; folders: boolean; browse: boolean; url: boolean } {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      only: { type: 'string' },
      runs: { type: 'string' },
      'no-etcher': { type: 'boolean' },
      'no-flash': { type: 'boolean' },
      'no-backup': { type: 'boolean' },
      'no-smart': { type: 'boolean' },
      'no-folders': { type: 'boolean' },
      'no-browse': { type: 'boolean' },
      'no-url': { type: 'boolean' },
    },
  });
  const formats = values.only ? values.only.split(',').map((s) => s.trim()) : ALL_FORMATS;
  const unknown = formats.filter((f) => !(ALL_FORMATS as string[]).includes(f));
  if (unknown.length > 0) throw new Error(`--only takes ${ALL_FORMATS.join(',')}; got ${unknown.join(',')}`);
  const runs = values.runs ? Number(values.runs) : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs takes a whole number >= 1; got ${values.runs}`);
  return { formats: formats as BenchFormat[], runs, etcher: !values['no-etcher'], flash: !values['no-flash'], backup: !values['no-backup'], smart: !values['no-smart'], folders: !values['no-folders'], browse: !values['no-browse'], url: !values['no-url'] };
}

/** Load, tool versions: the figures are only as good as the machine was quiet. */
async function environment(): Promise<string> {
  const first = async (argv: string[]): Promise<string> => {
    const r = await exec(argv);
    return (r.stdout || r.stderr).trim().split('\n')[0] ?? '?';
  };
  const head = (await exec(['git', '-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  const dirty = (await exec(['git', '-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim() !== '';
  return [
    `Imprint: ${head || '?'}${dirty ? ' plus uncommitted changes in the work tree (out/ is what the last build compiled)' : ''}`,
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`,
    `Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (the CPUs are shared with other engineers' tests: expect noise)`,
    `Tools: ${await first(['dd', '--version'])}; ${await first(['xz', '--version'])}; ${await first(['zstd', '--version'])}; gzip ${(await first(['gzip', '--version'])).replace(/^gzip /, '')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = options();
  if (process.getuid?.() !== 0) throw new Error('The benchmark attaches loop devices: run it as root.');
  const missing = REQUIRED_TOOLS.filter((t) => !haveTool(t));
  if (missing.length > 0) throw new Error(`Missing tools: ${missing.join(', ')} (see .ci/apt-packages)`);
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const started = Date.now();
  const env = await environment();
  log(env);
  const image = await ensureBenchImage(log);
  const sizes = Object.entries(image.files).map(([f, x]) => `${f} ${(x.bytes / 2 ** 20).toFixed(0)} MiB`).join(', ');
  const imageLine = `Image: ${image.files.raw.path}: GPT, FAT32 boot 64 MiB${image.bootFiles ? ' with files' : ''}, ext4 root ${image.rootUsedPercent}% used (system files + random data), rest zeros. Files: ${sizes}.`;
  log(imageLine);

  const sections: string[] = [env, imageLine];
  const checks: TargetCheck[] = [];
  if (opts.flash) {
    log(`\nFlash: ${opts.formats.join(', ')}; ${opts.runs} round(s)${opts.etcher ? '' : '; etcher-sdk skipped (--no-etcher)'}`);
    const flash = await runFlashBench(image, { formats: opts.formats, runs: opts.runs, etcher: opts.etcher, log });
    sections.push('', '## Flash (issue 2)', '', flash.text);
    checks.push(...flash.checks);
  }
  if (opts.backup) {
    if (await imprintHasCommand('backup')) {
      log(`\nBackup and restore: ${opts.runs} round(s)`);
      const backup = await runBackupBench(image, { runs: opts.runs, log });
      sections.push('', '## Backup and restore (issue 4)', '', backup.text);
      checks.push(...backup.checks);
    } else {
      sections.push('', '## Backup and restore (issue 4)', '', 'Skipped: `imprint backup --help` does not exit 0 (the command does not exist yet).');
    }
  }
  if (opts.smart) {
    log(`\nSmart backup (issue 14): ${opts.runs} round(s)`);
    const smart = await runSmartBackupBench({ runs: opts.runs, log });
    sections.push('', '## Smart backup and restore (issue 14)', '', smart.text);
    checks.push(...smart.checks);
  }
  if (opts.folders) {
    if (haveTool('casync')) {
      log(`\nBackup folders beside casync (issue 15): restores ${opts.runs} round(s)`);
      const folders = await runFolderBench({ runs: opts.runs, log });
      sections.push('', '## Backup folders beside casync (issue 15)', '', folders.text);
      checks.push(...folders.checks);
    } else {
      sections.push('', '## Backup folders beside casync (issue 15)', '', 'Skipped: casync is not installed (Debian package casync).');
    }
  }
  if (opts.browse) {
    log('\nLook inside a backup (issue 16)');
    const browse = await runBrowseBench(log);
    sections.push('', '## Look inside a backup: ls and extract (issue 16)', '', browse.text);
    checks.push(...browse.checks);
  }
  if (opts.url) {
    log(`\nFlash from a URL (issue 17): raw and xz; ${opts.runs} round(s)`);
    const url = await runUrlFlashBench(image, { runs: opts.runs, log });
    sections.push('', '## Flash from a URL (issue 17)', '', url.text);
    checks.push(...url.checks);
  }
  sections.push('', '## Targets', '', targetsTable(checks), '', `Load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; took ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  const report = sections.join('\n');
  process.stdout.write('\n' + report + '\n');
  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  fs.writeFileSync(path.join(CACHE_ROOT, 'last-report.md'), report + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
