import * as path from 'path';
import type { JobEvent } from '../shared/job-events';
import { IMPRINT_CLI, REPO_ROOT } from './bench-config';
import { bash, exec } from './exec';
import type { BenchFormat } from './image-builder';
import type { EtcherOutcome } from './etcher-flash';

/** One timed run of one tool. */
export interface Measurement {
  /** The tool said it succeeded (exit code, final event). */
  ok: boolean;
  /** Wall seconds of the whole run, start-up included. */
  seconds: number;
  /** Seconds until the tool started verifying, when it says. */
  writeSeconds: number | null;
  /** Imprint only: seconds from its job-started event to job-finished (no Node or CLI start-up). */
  jobSeconds?: number | null;
  peakRssKiB: number | null;
  /** User + system CPU seconds of the tool's process tree, when measured. */
  cpuSeconds?: number | null;
  error?: string;
}

const lastLine = (s: string): string => s.trim().split('\n').pop()?.slice(0, 300) ?? '';

/** `imprint flash IMAGE DEVICE --yes --json`, with or without verification; peak RSS by time(1). */
export async function imprintFlash(image: string, device: string, verify: boolean): Promise<Measurement> {
  let writeSeconds: number | null = null;
  let startedAt: number | null = null;
  let finishedAt: number | null = null;
  let finished: Extract<JobEvent, { type: 'job-finished' }> | null = null;
  const argv = [process.execPath, IMPRINT_CLI, 'flash', image, device, '--yes', '--json', ...(verify ? [] : ['--no-verify'])];
  const r = await exec(argv, {
    rss: true,
    onLine: (line, at) => {
      if (!line.startsWith('{')) return;
      const e = JSON.parse(line) as JobEvent;
      if (e.type === 'progress' && e.phase === 'verifying' && writeSeconds === null) writeSeconds = at;
      if (e.type === 'job-started') startedAt = at;
      if (e.type === 'job-finished') {
        finished = e;
        finishedAt = at;
      }
    },
  });
  const end = finished as Extract<JobEvent, { type: 'job-finished' }> | null;
  const ok = r.code === 0 && end?.ok === true;
  return {
    ok,
    seconds: r.seconds,
    writeSeconds: verify ? writeSeconds : r.seconds,
    jobSeconds: startedAt !== null && finishedAt !== null ? finishedAt - startedAt : null,
    peakRssKiB: r.peakRssKiB,
    cpuSeconds: r.cpuSeconds,
    ...(ok ? {} : { error: end?.error?.message ?? lastLine(r.stderr) }),
  };
}

/** The command-line decompressor each format's dd pipeline reads from. */
const DECOMPRESSOR: Record<Exclude<BenchFormat, 'raw'>, string> = {
  gz: 'zcat',
  xz: 'xzcat',
  zst: 'zstdcat',
  zip: 'unzip -p',
};

/** How the dd peer is spelt for a format, for the report. */
export function ddPipeline(format: BenchFormat): string {
  const dd = 'dd of=DEV bs=4M oflag=direct conv=fsync';
  return format === 'raw' ? `dd if=IMG ${dd.slice(3)}` : `${DECOMPRESSOR[format]} IMG | ${dd} iflag=fullblock`;
}

/**
 * dd writing the image with O_DIRECT and a final fsync. Compressed images are
 * piped in from the usual tool; iflag=fullblock makes dd gather whole 4 MiB
 * blocks from the pipe instead of writing each 64 KiB pipe read.
 */
export async function ddWrite(format: BenchFormat, image: string, device: string): Promise<Measurement> {
  const r =
    format === 'raw'
      ? await exec(['dd', `if=${image}`, `of=${device}`, 'bs=4M', 'oflag=direct', 'conv=fsync', 'status=none'])
      : await bash(`${DECOMPRESSOR[format]} "$1" | dd of="$2" bs=4M iflag=fullblock oflag=direct conv=fsync status=none`, [image, device]);
  return { ok: r.code === 0, seconds: r.seconds, writeSeconds: r.seconds, peakRssKiB: null, ...(r.code === 0 ? {} : { error: lastLine(r.stderr) }) };
}

/** The dd peer's verification: read the device back with O_DIRECT and hash it with sha256sum. */
export async function ddReadBackHash(device: string, bytes: number): Promise<{ seconds: number; sha256: string; ok: boolean }> {
  const r = await bash(`dd if="$1" iflag=direct,count_bytes bs=4M count="$2" status=none | sha256sum`, [device, String(bytes)]);
  return { seconds: r.seconds, sha256: r.stdout.trim().split(/\s+/)[0] ?? '', ok: r.code === 0 };
}

/**
 * Makes etcher-sdk loadable before it is timed. Its `mountutils` ships a
 * prebuilt binary linked against a newer libstdc++ than some systems have
 * (Debian 12: "GLIBCXX_3.4.32 not found"), and node-gyp-build picks that
 * prebuild whatever the C++ runtime is; a local build in build/Release is
 * preferred over it. Returns what was done, for the log.
 */
export async function ensureEtcherLoads(): Promise<string | null> {
  const probe = (): Promise<{ code: number | null; stderr: string }> => exec([process.execPath, '-e', "require('mountutils')"], { cwd: REPO_ROOT });
  const first = await probe();
  if (first.code === 0) return null;
  const dir = path.join(REPO_ROOT, 'node_modules', 'mountutils');
  // Through npm, so its configuration applies (here: nodedir, the local Node headers; nothing is downloaded).
  const build = await exec(['npm', 'exec', '--', 'node-gyp', 'rebuild'], { cwd: dir });
  const again = await probe();
  if (again.code === 0) return `etcher-sdk: mountutils's prebuilt binary does not load here (${lastLine(first.stderr)}); built it from source with node-gyp.`;
  throw new Error(`etcher-sdk cannot load mountutils (${lastLine(again.stderr)}); node-gyp rebuild said: ${lastLine(build.stderr)}. Run with --no-etcher to skip it.`);
}

/** etcher-sdk's decompressThenFlash with verify, in its own process (out/bench/etcher-flash.js). */
export async function etcherFlash(image: string, device: string): Promise<Measurement> {
  const r = await exec([process.execPath, path.join(__dirname, 'etcher-flash.js'), image, device], { rss: true });
  let outcome: EtcherOutcome | null = null;
  try {
    outcome = JSON.parse(lastLine(r.stdout)) as EtcherOutcome;
  } catch {
    outcome = null;
  }
  const ok = r.code === 0 && outcome?.ok === true;
  return {
    ok,
    // Its own clock, from the call to the end of verify: loading etcher-sdk's
    // modules takes ~2 s, which the desktop app pays once, not per flash.
    seconds: outcome && outcome.totalSeconds > 0 ? outcome.totalSeconds : r.seconds,
    writeSeconds: outcome?.writeSeconds ?? null,
    peakRssKiB: r.peakRssKiB,
    ...(ok ? {} : { error: outcome?.error ?? (lastLine(r.stderr) || `exit ${r.code}`) }),
  };
}

/** True when the `imprint` CLI has a given command (another engineer may still be building it). */
export async function imprintHasCommand(command: string): Promise<boolean> {
  const r = await exec([process.execPath, IMPRINT_CLI, command, '--help']);
  return r.code === 0;
}
