import * as fs from 'fs';
import * as path from 'path';
import { TestHttpServer } from '../electron/engine/testing/http-test-server';
import { CACHE_ROOT, MiB, TARGET_SIZE } from './bench-config';
import type { BenchImage } from './image-builder';
import { attachLoopTarget, flushDevice, hashDevice, scrambleDevice } from './loop-target';
import { imprintFlash, type Measurement } from './peers';
import { atLeast, fmtRate, fmtRatio, median, okSeconds, rate, ratio, table, type TargetCheck } from './report';

/**
 * Issue 17's benchmark: `imprint flash URL` from a loopback HTTP server
 * (the tests' server, in this process) beside `imprint flash FILE` of the
 * same file from disk, in the same rounds: raw and .xz, plain and with the
 * connection reset every 100 MiB, and raw with the cache on the target's
 * disk. Each URL run starts with an empty download cache (it would
 * otherwise flash the cached copy).
 */
export interface UrlBenchOptions {
  runs: number;
  log: (s: string) => void;
}

type UrlFormat = 'raw' | 'xz';
type Way = 'disk' | 'url' | 'url-reset' | 'url-same-disk';
const FORMATS: UrlFormat[] = ['raw', 'xz'];
/**
 * url-same-disk: the download cache on the target's disk, as this machine's
 * one disk forces unless told otherwise (raw only: an xz flash is bound by
 * its decoder, not by the disk).
 */
const WAYS_OF: Record<UrlFormat, Way[]> = { raw: ['disk', 'url', 'url-reset', 'url-same-disk'], xz: ['disk', 'url', 'url-reset'] };
const RESET_EVERY = 100 * MiB;
/**
 * Where the url and url-reset runs keep the download cache: storage other
 * than the target's disk, as on a user's machine (the cache on the system
 * disk, the image going to a USB stick or SD card). This machine has one
 * disk, under both the bench's files and the target's loop file, so the
 * other storage is memory. Measured on fc38a8b: raw url 0.70x of disk with
 * the cache on the target's disk, 0.87x on /dev/shm (the cache's 460 MiB
 * of writes and the target's 460 MiB then no longer share one disk).
 */
function separateCacheRoot(): string | null {
  try {
    const st = fs.statfsSync('/dev/shm');
    return st.bavail * st.bsize > 3 * TARGET_SIZE ? '/dev/shm' : null;
  } catch {
    return null;
  }
}

export async function runUrlFlashBench(image: BenchImage, opts: UrlBenchOptions): Promise<{ text: string; checks: TargetCheck[] }> {
  const server = await TestHttpServer.start();
  for (const f of FORMATS) server.files.set(`/${path.basename(image.files[f].path)}`, fs.readFileSync(image.files[f].path));
  const sameDiskCache = path.join(CACHE_ROOT, `url-cache-${process.pid}`);
  const separateRoot = separateCacheRoot();
  const separateCache = separateRoot ? path.join(separateRoot, `imprint-url-cache-${process.pid}`) : sameDiskCache;
  const savedCacheEnv = process.env.IMPRINT_CACHE_DIR;
  const runs: Record<string, Measurement[]> = {};
  const content: Record<string, string> = {};
  /** CPU-seconds of this process (the server) during each URL run. */
  const serverSeconds: Record<string, number[]> = {};
  const target = await attachLoopTarget('url-target', TARGET_SIZE);
  opts.log(`Target: ${target.device}; server ${server.url('/')}`);
  try {
    for (let round = 0; round < opts.runs; round++) {
      for (const f of FORMATS) {
        const file = image.files[f].path;
        const ways = WAYS_OF[f];
        const order = ways.map((_, i) => ways[(i + round) % ways.length] as Way);
        for (const way of order) {
          const key = `${f}/${way}`;
          const check = round === 0;
          if (check) await scrambleDevice(target.device, image.size);
          const cacheDir = way === 'url-same-disk' ? sameDiskCache : separateCache;
          fs.rmSync(cacheDir, { recursive: true, force: true });
          // The CLI runs as a child and reads its cache folder from the environment it inherits.
          process.env.IMPRINT_CACHE_DIR = cacheDir;
          server.reset();
          if (way === 'url-reset') server.faults = { resetEvery: RESET_EVERY };
          const serverCpu = process.cpuUsage();
          const m = await imprintFlash(way === 'disk' ? file : server.url(`/${path.basename(file)}`), target.device, true);
          const served = process.cpuUsage(serverCpu);
          (runs[key] ??= []).push(m);
          (serverSeconds[key] ??= []).push((served.user + served.system) / 1e6);
          await flushDevice(target.device);
          if (check) content[key] = (await hashDevice(target.device, image.size)) === image.sha256 ? 'ok' : 'device does not hold the image';
          const connections = server.requests.filter((r) => r.path === `/${path.basename(file)}`).length;
          // CPU: the imprint process tree, and this process (the server) while it ran: the two share the machine's cores.
          const cpu = `  cpu ${m.cpuSeconds?.toFixed(2) ?? '-'} s${way === 'disk' ? '' : ` + server ${((served.user + served.system) / 1e6).toFixed(2)} s`}`;
          opts.log(`  round ${round + 1} ${f.padEnd(3)} ${way.padEnd(9)} ${m.seconds.toFixed(2).padStart(6)} s${cpu}${way === 'disk' ? '' : `  ${connections} connection(s)`}${m.ok ? '' : `  FAILED: ${m.error ?? ''}`}${check && content[key] !== 'ok' ? `  CONTENT: ${content[key]}` : ''}`);
        }
      }
    }
  } finally {
    await target.detach();
    await server.close();
    for (const dir of [sameDiskCache, separateCache]) fs.rmSync(dir, { recursive: true, force: true });
    if (savedCacheEnv === undefined) delete process.env.IMPRINT_CACHE_DIR;
    else process.env.IMPRINT_CACHE_DIR = savedCacheEnv;
  }

  const rows: string[][] = [];
  const checks: TargetCheck[] = [];
  const notes: string[] = [];
  for (const f of FORMATS) {
    const r = (way: Way): number | null => rate(image.size, okSeconds(runs[`${f}/${way}`] ?? []));
    const [disk, url, reset, sameDisk] = [r('disk'), r('url'), r('url-reset'), r('url-same-disk')];
    // CPU-seconds say where a ratio comes from on shared cores, where wall times swing with others' load.
    const cpu = (way: Way): string => {
      const c = median(okSeconds(runs[`${f}/${way}`] ?? [], (m) => m.cpuSeconds ?? null));
      const server = median((serverSeconds[`${f}/${way}`] ?? []).filter((_, i) => runs[`${f}/${way}`]?.[i]?.ok));
      return c === null ? '-' : `${c.toFixed(2)}${way === 'disk' || server === null ? '' : ` + ${server.toFixed(2)}`}`;
    };
    const sameDiskCells = f === 'raw' ? [fmtRatio(ratio(sameDisk, disk)), cpu('url-same-disk')] : ['-', '-'];
    rows.push([f, fmtRate(disk), fmtRate(url), fmtRate(reset), fmtRatio(ratio(url, disk)), fmtRatio(ratio(reset, disk)), cpu('disk'), cpu('url'), cpu('url-reset'), ...sameDiskCells]);
    checks.push(atLeast(`${f} flash from a local HTTP server >= 0.90x the same file from disk`, url, disk, 0.9));
    checks.push(atLeast(`  same, the connection reset every 100 MiB >= 0.80x`, reset, disk, 0.8));
    for (const way of WAYS_OF[f]) {
      const bad = (runs[`${f}/${way}`] ?? []).filter((m) => !m.ok);
      if (bad.length > 0) notes.push(`${f} ${way}: failed ${bad.length} time(s): ${bad[0]?.error ?? ''}`);
      const c = content[`${f}/${way}`];
      if (c && c !== 'ok') notes.push(`${f} ${way}: ${c}`);
    }
  }
  const text = [
    `MB/s = ${image.size} image bytes / 10^6 / median wall seconds of ${opts.runs} run(s) of \`imprint flash SOURCE DEVICE --yes\` (write + verify, start-up included).`,
    `CPU-s = median user + system CPU-seconds of the imprint process tree (time(1)), and of the benchmark's process, which is the HTTP server, during the run.`,
    `url = the same file from a loopback HTTP server in the benchmark's process (decoded and written as it downloads; every run with an empty download cache); url-reset = the server resets the connection (TCP RST) every ${RESET_EVERY / MiB} MiB sent.`,
    `The server shares the machine's cores with the flash (a real download's server is elsewhere). The download cache of the url and url-reset runs is in ${separateRoot ?? `${CACHE_ROOT} (no room in /dev/shm)`}, not on the disk under the target's loop file, as a real flash writes the cache to the system disk and the image to another drive; url-same-disk (raw) is the url run with the cache on the target's disk (${CACHE_ROOT}), shown beside it and not a target.`,
    '',
    table(['format', 'disk MB/s', 'url MB/s', 'url-reset MB/s', 'url/disk', 'url-reset/disk', 'disk CPU-s', 'url CPU-s (+ server)', 'url-reset CPU-s (+ server)', 'url-same-disk/disk', 'url-same-disk CPU-s (+ server)'], rows),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
  return { text, checks };
}
