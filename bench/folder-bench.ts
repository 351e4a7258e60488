import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { FolderBackupJobDetails, JobEvent } from '../shared/job-events';
import { CACHE_ROOT, IMPRINT_CLI, MiB } from './bench-config';
import { bash, exec, mustBash, mustExec } from './exec';
import { attachLoopTarget, flushDevice, settleWrites, type LoopTarget } from './loop-target';
import { fmtRate, okSeconds, rate, table, type TargetCheck } from './report';
import { ensureSmartDrive, SMART_DRIVE_SIZE } from './smart-drive-builder';

/**
 * Issue 15's benchmark: backup folders beside casync on the smart-backup
 * bench drive (3 GiB, ext4 + FAT32 + NTFS, about 600 MiB in use). On a copy
 * of the cached drive: generation 1 into a folder and into a casync store;
 * about 25 MiB of files changed on all three filesystems (added, deleted,
 * overwritten in the middle, renamed); generation 2 with both; an unchanged
 * third backup with Imprint; then a restore of the latest generation beside
 * a smart single-file backup's restore of the same drive. Backups run once
 * each (a generation cannot be taken twice); the restores --runs times.
 */

export interface FolderBenchOptions {
  runs: number;
  log: (s: string) => void;
}

interface Timed {
  ok: boolean;
  seconds: number;
  error?: string;
  details?: FolderBackupJobDetails;
}

const lastLine = (s: string): string => s.trim().split('\n').pop()?.slice(0, 300) ?? '';

async function imprint(args: string[]): Promise<Timed> {
  const r = await exec([process.execPath, IMPRINT_CLI, ...args, '--yes', '--json']);
  const fin = r.stdout.split('\n').filter((l) => l.startsWith('{"type":"job-finished"')).pop();
  const event = fin ? (JSON.parse(fin) as Extract<JobEvent, { type: 'job-finished' }>) : null;
  const ok = r.code === 0 && event?.ok === true;
  const details = event?.details?.kind === 'folder-backup' ? event.details : undefined;
  return { ok, seconds: r.seconds, ...(details ? { details } : {}), ...(ok ? {} : { error: event?.error?.message ?? (lastLine(r.stderr) || lastLine(r.stdout)) }) };
}

async function casync(store: string, index: string, device: string): Promise<Timed> {
  const r = await exec(['casync', 'make', `--store=${store}`, index, device]);
  return { ok: r.code === 0, seconds: r.seconds, ...(r.code === 0 ? {} : { error: lastLine(r.stderr) }) };
}

/** Bytes of the files under `dir` (du's apparent size), 0 when it does not exist yet. */
async function bytesUnder(dir: string): Promise<number> {
  if (!fs.existsSync(dir)) return 0;
  return Number((await mustExec(['du', '-sb', dir])).stdout.split(/\s/)[0]);
}

/**
 * Share of `source`'s bytes (a file, or every file under a folder) in the
 * page cache, from util-linux's fincore; null when it cannot tell.
 */
async function cachedShare(source: string): Promise<number | null> {
  const r = await bash('find "$1" -type f -print0 | xargs -0 -r fincore --bytes --noheadings --raw --output RES,SIZE', [source]);
  if (r.code !== 0) return null;
  let res = 0;
  let size = 0;
  for (const line of r.stdout.trim().split('\n')) {
    const [a, b] = line.trim().split(/\s+/).map(Number);
    if (Number.isFinite(a) && Number.isFinite(b)) {
      res += a as number;
      size += b as number;
    }
  }
  return size > 0 ? res / size : null;
}

/**
 * Reads every file of `source` once, so that both restores start with their
 * source in the page cache, as right after a backup. Before, they started
 * from whatever state the backups had left: fincore (printed with the
 * results) found the folder's pieces all in memory before every round and
 * the single file, written a moment before, at 0% before the first, so
 * round 1 compared a folder read from memory with a file read from the
 * disk. A restore from a cold source (after a crash, from a USB disk)
 * depends on that disk and is not compared here: workers/folder-chunk-worker.ts
 * has the figures measured with the pages dropped.
 */
async function warm(source: string): Promise<void> {
  await mustBash('find "$1" -type f -print0 | xargs -0 -r cat > /dev/null', [source]);
}

/** Drops the device's cached pages, so a tool that reads through the page cache does not find the previous run's reads there. */
const dropCache = (device: string): Promise<unknown> => mustExec(['blockdev', '--flushbufs', device]);

const random = (bytes: number): Buffer => crypto.randomBytes(bytes);

function overwriteMiddle(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const at = Math.floor((fs.fstatSync(fd).size - bytes) / 2) + 4096 * 3 + 512;
    fs.writeSync(fd, random(bytes), 0, bytes, at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The first `n` regular files under `dir`, depth first in name order. */
function someFiles(dir: string, n: number, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (out.length >= n) break;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) someFiles(p, n, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * About 25 MiB of changes of the kinds people make, on each filesystem of
 * the copy: new files, deleted files, an overwrite in the middle of a large
 * file, a renamed folder or file. Returns the bytes of new file content.
 */
export async function changeFiles(dev: string, work: string): Promise<number> {
  const mnt = path.join(work, 'mnt');
  fs.mkdirSync(mnt, { recursive: true });
  let written = 0;
  await mustExec(['mount', `${dev}p1`, mnt]);
  try {
    fs.writeFileSync(path.join(mnt, 'added.bin'), random(6 * MiB));
    overwriteMiddle(path.join(mnt, 'data.bin'), 4 * MiB);
    for (const f of someFiles(path.join(mnt, 'usr'), 40)) fs.rmSync(f);
    const sub = fs.readdirSync(path.join(mnt, 'usr')).sort()[0];
    if (sub) fs.renameSync(path.join(mnt, 'usr', sub), path.join(mnt, 'usr', `${sub}-renamed`));
    written += 10 * MiB;
  } finally {
    await mustExec(['umount', mnt]);
  }
  // FAT through mtools (no vfat in this kernel); MTOOLS_SKIP_CHECK: it refuses a loop partition's geometry otherwise.
  const staged = path.join(work, 'fat-new.bin');
  fs.writeFileSync(staged, random(4 * MiB));
  await mustBash('export MTOOLS_SKIP_CHECK=1; mcopy -i "$1" "$2" ::/fat-new.bin && mdel -i "$1" ::/photo.bin && mren -i "$1" ::/docs.tar ::/docs-old.tar', [`${dev}p2`, staged]);
  fs.rmSync(staged);
  written += 4 * MiB;
  await mustExec(['ntfs-3g', `${dev}p3`, mnt]);
  try {
    fs.writeFileSync(path.join(mnt, 'added.bin'), random(6 * MiB));
    overwriteMiddle(path.join(mnt, 'video.bin'), 4 * MiB);
    for (const f of someFiles(path.join(mnt, 'lib'), 20)) fs.rmSync(f);
    fs.renameSync(path.join(mnt, 'lib'), path.join(mnt, 'lib-renamed'));
    written += 10 * MiB;
  } finally {
    await mustExec(['umount', mnt]);
  }
  return written;
}

export async function runFolderBench(opts: FolderBenchOptions): Promise<{ text: string; checks: TargetCheck[] }> {
  const cached = await ensureSmartDrive(opts.log);
  const work = path.join(CACHE_ROOT, `folder-bench-${process.pid}`);
  fs.mkdirSync(work, { recursive: true });
  const folder = path.join(work, 'folder');
  const store = path.join(work, 'casync-store');
  const single = path.join(work, 'single.img.zst');
  const log = (name: string, t: Timed, extra = ''): void => opts.log(`  ${name.padEnd(44)} ${t.seconds.toFixed(2).padStart(6)} s${extra}${t.ok ? '' : `  FAILED: ${t.error ?? ''}`}`);
  const res: Record<string, Timed> = {};
  const grew: Record<string, number> = {};
  const restores: { folder: Timed[]; single: Timed[] } = { folder: [], single: [] };
  /** Share of each source in the page cache before it was read to warm it, by round. */
  const cachedBefore: { folder: (number | null)[]; single: (number | null)[] } = { folder: [], single: [] };
  let changed = 0;
  let drive = '';
  let target: LoopTarget | null = null;
  let device: DeviceTime | null = null;
  try {
    // A copy of the cached drive, changed by this bench (the cache is only read). dd writes every
    // byte, so the copy has no holes (which would slow direct I/O, docs/block-io.md).
    const driveFile = path.join(work, 'drive.img');
    await mustExec(['dd', `if=${cached}`, `of=${driveFile}`, 'bs=4M', 'conv=fsync', 'status=none']);
    drive = (await mustExec(['losetup', '-f', '--show', '--direct-io=on', driveFile])).stdout.trim();
    target = await attachLoopTarget('folder-bench-target', SMART_DRIVE_SIZE);
    const targetDevice = target.device;
    await mustExec(['partx', '-a', drive]).catch(() => undefined);
    const step = async (key: string, name: string, sizeOf: string, run: () => Promise<Timed>): Promise<void> => {
      await settleWrites();
      await dropCache(drive);
      const before = await bytesUnder(sizeOf);
      const t = await run();
      grew[key] = (await bytesUnder(sizeOf)) - before;
      res[key] = t;
      log(name, t, `  +${(grew[key] / MiB).toFixed(1)} MiB`);
    };
    await step('imprint1', 'imprint backup --into FOLDER (generation 1)', folder, () => imprint(['backup', drive, '--into', folder]));
    await step('casync1', 'casync make --store (generation 1)', store, () => casync(store, path.join(work, 'gen1.caibx'), drive));
    changed = await changeFiles(drive, work);
    await step('imprint2', 'imprint backup --into FOLDER (generation 2)', folder, () => imprint(['backup', drive, '--into', folder]));
    await step('casync2', 'casync make --store (generation 2)', store, () => casync(store, path.join(work, 'gen2.caibx'), drive));
    // casync's index of a generation lives outside its store, yet a restore needs it: Imprint's is inside the folder.
    grew.caibx2 = fs.existsSync(path.join(work, 'gen2.caibx')) ? fs.statSync(path.join(work, 'gen2.caibx')).size : 0;
    await step('imprint3', 'imprint backup --into FOLDER (unchanged)', folder, () => imprint(['backup', drive, '--into', folder]));
    await step('single', 'imprint backup DRIVE single.img.zst (smart)', work, () => imprint(['backup', drive, single]));
    for (let round = 0; round < opts.runs; round++) {
      for (const [key, source] of [
        ['folder', folder],
        ['single', single],
      ] as const) {
        await settleWrites();
        cachedBefore[key].push(await cachedShare(source));
        await warm(source);
        const t = await imprint(['restore', source, targetDevice]);
        await flushDevice(targetDevice);
        restores[key].push(t);
        log(`round ${round + 1} imprint restore ${key === 'folder' ? 'FOLDER (latest)' : 'single.img.zst'}`, t);
      }
    }
    const stored = res.imprint3?.details?.storedBytes;
    if (stored) device = await deviceTime(targetDevice, stored);
  } finally {
    if (drive) {
      await mustExec(['partx', '-d', drive]).catch(() => undefined);
      await mustExec(['losetup', '-d', drive]);
    }
    await target?.detach();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return report(res, grew, restores, cachedBefore, changed, opts.runs, device);
}

/** Each round's seconds, in order, as the table prints them. */
const rounds = (ts: Timed[]): string => ts.map((t) => `${t.seconds.toFixed(2)}${t.ok ? '' : ' (failed)'}`).join(', ');

/**
 * dd writing `bytes` of zeros to the target with 4 MiB direct writes, then
 * reading them back the same way: what the drive itself takes for a
 * restore's writes and read-back, one after the other (a restore overlaps
 * them). Both restores write and read exactly these bytes, so this shows how
 * much of their time is the drive's.
 */
async function deviceTime(device: string, bytes: number): Promise<DeviceTime | null> {
  const count = String(Math.ceil(bytes / (4 * MiB)));
  await settleWrites();
  const w = await exec(['dd', 'if=/dev/zero', `of=${device}`, 'bs=4M', `count=${count}`, 'oflag=direct', 'conv=fsync', 'status=none']);
  await flushDevice(device);
  const r = await exec(['dd', `if=${device}`, 'of=/dev/null', 'bs=4M', `count=${count}`, 'iflag=direct', 'status=none']);
  return w.code === 0 && r.code === 0 ? { bytes, write: w.seconds, read: r.seconds, seconds: w.seconds + r.seconds } : null;
}

interface DeviceTime {
  bytes: number;
  write: number;
  read: number;
  seconds: number;
}

function report(
  res: Record<string, Timed>,
  grew: Record<string, number>,
  restores: { folder: Timed[]; single: Timed[] },
  cachedBefore: { folder: (number | null)[]; single: (number | null)[] },
  changed: number,
  runs: number,
  device: DeviceTime | null,
): { text: string; checks: TargetCheck[] } {
  const mib = (b: number | undefined): string => (b === undefined ? '-' : (b / MiB).toFixed(1));
  const secs = (t: Timed | undefined): string => (t ? `${t.seconds.toFixed(2)}${t.ok ? '' : ' (failed)'}` : '-');
  // fincore counts whole pages: a folder of small files shows a little over 100%.
  const shares = (xs: (number | null)[]): string => xs.map((x) => (x === null ? '?' : `${Math.min(100, x * 100).toFixed(0)}%`)).join(', ');
  const ok = (...keys: string[]): boolean => keys.every((k) => res[k]?.ok === true);
  const used = res.imprint1?.details?.storedBytes;
  const rf = rate(SMART_DRIVE_SIZE, okSeconds(restores.folder.map((t) => ({ ...t, writeSeconds: null, peakRssKiB: null }))));
  const rs = rate(SMART_DRIVE_SIZE, okSeconds(restores.single.map((t) => ({ ...t, writeSeconds: null, peakRssKiB: null }))));
  const text = [
    `Drive: a copy of the smart-backup bench drive (${SMART_DRIVE_SIZE / MiB} MiB; ${mib(used)} MiB of it in use as Imprint reads it). Between generations 1 and 2, ${mib(changed)} MiB of new file content on ext4, FAT32 and NTFS (files added, deleted, 4 MiB overwritten in the middle of a large file, renamed). "Added" = growth of the folder or store (du --apparent-size); one run of each backup; restores: median of ${runs}, each source read once just before its restore, so both start from the page cache (in memory before that, by round: folder ${shares(cachedBefore.folder)}, single file ${shares(cachedBefore.single)}).`,
    '',
    table(
      ['step', 'Imprint folder: s', 'added MiB', 'casync: s', 'added MiB'],
      [
        ['generation 1', secs(res.imprint1), mib(grew.imprint1), secs(res.casync1), mib(grew.casync1)],
        ['generation 2 (after the changes)', secs(res.imprint2), mib(grew.imprint2), secs(res.casync2), `${mib(grew.casync2)} (+ ${mib(grew.caibx2)} .caibx)`],
        ['generation 3 (unchanged)', secs(res.imprint3), mib(grew.imprint3), '-', '-'],
      ],
    ),
    '',
    table(
      ['restore of the latest generation onto a 3 GiB loop drive', 'MB/s', 'each round, s'],
      [
        ['imprint restore FOLDER (read back and checked)', fmtRate(rf), rounds(restores.folder)],
        [`imprint restore single.img.zst (smart single file, made in ${secs(res.single)} s, ${mib(grew.single)} MiB)`, fmtRate(rs), rounds(restores.single)],
        ...(device ? [[`dd writing as many bytes (${mib(device.bytes)} MiB of zeros, 4 MiB direct writes) to the same drive, then reading them back (reference)`, fmtRate(rate(SMART_DRIVE_SIZE, [device.seconds])), `${device.write.toFixed(2)} + ${device.read.toFixed(2)}`]] : []),
      ],
    ),
  ].join('\n');
  const checks: TargetCheck[] = [
    {
      target: 'folder: second backup adds at most what casync adds to its store',
      measured: ok('imprint2', 'casync2') ? `${mib(grew.imprint2)} MiB vs ${mib(grew.casync2)} MiB (its .caibx index, outside the store: ${mib(grew.caibx2)} MiB more)` : 'not measured',
      pass: ok('imprint2', 'casync2') ? (grew.imprint2 ?? 0) <= (grew.casync2 ?? 0) : null,
    },
    {
      target: "folder: second backup at most as long as casync's",
      measured: ok('imprint2', 'casync2') ? `${secs(res.imprint2)} s vs ${secs(res.casync2)} s` : 'not measured',
      pass: ok('imprint2', 'casync2') ? (res.imprint2?.seconds ?? 0) <= (res.casync2?.seconds ?? 0) : null,
    },
    {
      target: "folder: unchanged backup adds < 1% of the drive's used size",
      measured: ok('imprint3') && used ? `${mib(grew.imprint3)} MiB of ${mib(used)} MiB (${(((grew.imprint3 ?? 0) / used) * 100).toFixed(3)}%)` : 'not measured',
      pass: ok('imprint3') && used ? (grew.imprint3 ?? 0) < used * 0.01 : null,
    },
    {
      target: 'folder restore at least as fast as a smart single-file restore',
      measured: rf !== null && rs !== null ? `${fmtRate(rf)} vs ${fmtRate(rs)} MB/s (${(rf / rs).toFixed(2)}x)` : 'not measured',
      pass: rf !== null && rs !== null ? rf >= rs : null,
    },
  ];
  return { text, checks };
}
