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
 * connection reset every 100 MiB. Each URL run starts with an empty
 * download cache (it would otherwise flash the cached copy).
 */
export interface UrlBenchOptions {
  runs: number;
  log: (s: string) => void;
}

type UrlFormat = 'raw' | 'xz';
type Way = 'disk' | 'url' | 'url-reset';
const FORMATS: UrlFormat[] = ['raw', 'xz'];
const WAYS: Way[] = ['disk', 'url', 'url-reset'];
const RESET_EVERY = 100 * MiB;

export async function runUrlFlashBench(image: BenchImage, opts: UrlBenchOptions): Promise<{ text: string; checks: TargetCheck[] }> {
  const server = await TestHttpServer.start();
  for (const f of FORMATS) server.files.set(`/${path.basename(image.files[f].path)}`, fs.readFileSync(image.files[f].path));
  const cacheDir = path.join(CACHE_ROOT, `url-cache-${process.pid}`);
  const savedCacheEnv = process.env.IMPRINT_CACHE_DIR;
  // The CLI runs as a child and reads its cache folder from the environment it inherits.
  process.env.IMPRINT_CACHE_DIR = cacheDir;
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
        const order = WAYS.map((_, i) => WAYS[(i + round) % WAYS.length] as Way);
        for (const way of order) {
          const key = `${f}/${way}`;
          const check = round === 0;
          if (check) await scrambleDevice(target.device, image.size);
          fs.rmSync(cacheDir, { recursive: true, force: true });
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
    fs.rmSync(cacheDir, { recursive: true, force: true });
    if (savedCacheEnv === undefined) delete process.env.IMPRINT_CACHE_DIR;
    else process.env.IMPRINT_CACHE_DIR = savedCacheEnv;
  }

  const rows: string[][] = [];
  const checks: TargetCheck[] = [];
  const notes: string[] = [];
  for (const f of FORMATS) {
    const r = (way: Way): number | null => rate(image.size, okSeconds(runs[`${f}/${way}`] ?? []));
    const [disk, url, reset] = [r('disk'), r('url'), r('url-reset')];
    // CPU-seconds say where a ratio comes from on shared cores, where wall times swing with others' load.
    const cpu = (way: Way): string => {
      const c = median(okSeconds(runs[`${f}/${way}`] ?? [], (m) => m.cpuSeconds ?? null));
      const server = median((serverSeconds[`${f}/${way}`] ?? []).filter((_, i) => runs[`${f}/${way}`]?.[i]?.ok));
      return c === null ? '-' : `${c.toFixed(2)}${way === 'disk' || server === null ? '' : ` + ${server.toFixed(2)}`}`;
    };
    rows.push([f, fmtRate(disk), fmtRate(url), fmtRate(reset), fmtRatio(ratio(url, disk)), fmtRatio(ratio(reset, disk)), cpu('disk'), cpu('url'), cpu('url-reset')]);
    checks.push(atLeast(`${f} flash from a local HTTP server >= 0.90x the same file from disk`, url, disk, 0.9));
    checks.push(atLeast(`  same, the connection reset every 100 MiB >= 0.80x`, reset, disk, 0.8));
    for (const way of WAYS) {
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
    `The server shares the machine's cores with the flash (a real download's server is elsewhere), and the download cache (${CACHE_ROOT}) is on the same disk as the target's loop file (a real flash writes the cache to the system disk and the image to another drive).`,
    '',
    table(['format', 'disk MB/s', 'url MB/s', 'url-reset MB/s', 'url/disk', 'url-reset/disk', 'disk CPU-s', 'url CPU-s (+ server)', 'url-reset CPU-s (+ server)'], rows),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
  return { text, checks };
}
