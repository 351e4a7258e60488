import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sampleTreeRss } from './tree-rss';

/** What a finished child process left behind. */
export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, seconds. */
  seconds: number;
  /**
   * Peak resident set size in KiB, when asked for: the process and the
   * programs it runs (a decoder) summed (tree-rss.ts), or time(1)'s figure for
   * the largest single process when that is higher (a peak between samples).
   */
  peakRssKiB: number | null;
  /** User + system CPU seconds of the child and what it waited for (time(1)), when `rss` was asked for. */
  cpuSeconds: number | null;
}

export interface ExecOptions {
  /** Measure the child's peak RSS with `/usr/bin/time -f %M`. */
  rss?: boolean;
  cwd?: string;
  /** Called with each stdout line as it arrives, with the seconds since spawn. */
  onLine?: (line: string, atSeconds: number) => void;
  /** Feed this file to the child's stdin. */
  stdinFile?: string;
}

const TIME = '/usr/bin/time';

/**
 * Runs argv (no shell) and waits for it. Wall time is taken here, around
 * the whole child, so every tool pays its own start-up cost alike.
 */
export function exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('exec: empty argv');
  let rssFile: string | null = null;
  let full = argv;
  if (opts.rss) {
    rssFile = path.join(os.tmpdir(), `imprint-bench-rss-${process.pid}-${Date.now()}`);
    full = [TIME, '-f', '%U %S %M', '-o', rssFile, cmd, ...args];
  }
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const since = (): number => Number(process.hrtime.bigint() - start) / 1e9;
    const stdin = opts.stdinFile ? fs.openSync(opts.stdinFile, 'r') : 'ignore';
    const child = spawn(full[0] as string, full.slice(1), { cwd: opts.cwd, stdio: [stdin, 'pipe', 'pipe'] });
    if (typeof stdin === 'number') fs.closeSync(stdin);
    const tree = opts.rss && child.pid !== undefined ? sampleTreeRss(child.pid) : null;
    const { stdout: out, stderr: err } = child;
    if (!out || !err) throw new Error('exec: the child has no stdout or stderr pipe');
    let stdout = '';
    let stderr = '';
    let partial = '';
    out.setEncoding('utf8');
    err.setEncoding('utf8');
    out.on('data', (s: string) => {
      stdout += s;
      if (!opts.onLine) return;
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) opts.onLine(line, since());
    });
    err.on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = since();
      const treePeak = tree?.stop() ?? 0;
      let peakRssKiB: number | null = null;
      let cpuSeconds: number | null = null;
      if (rssFile) {
        try {
          // time(1) writes "Command exited with non-zero status N" before its figures on failure: take the last three numbers.
          const nums = fs.readFileSync(rssFile, 'utf8').trim().split(/\s+/).map(Number).filter(Number.isFinite);
          const [user, sys, rss] = nums.slice(-3);
          peakRssKiB = rss ?? null;
          cpuSeconds = user !== undefined && sys !== undefined && nums.length >= 3 ? user + sys : null;
        } catch {
          peakRssKiB = null;
        }
        fs.rmSync(rssFile, { force: true });
        if (peakRssKiB !== null || treePeak > 0) peakRssKiB = Math.max(peakRssKiB ?? 0, treePeak);
      }
      if (opts.onLine && partial) opts.onLine(partial, seconds);
      resolve({ code, stdout, stderr, seconds, peakRssKiB, cpuSeconds });
    });
  });
}

/**
 * Runs a fixed bash script with `pipefail`; values reach it as "$1", "$2"...,
 * never spliced into the script text.
 */
export function bash(script: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
  return exec(['bash', '-o', 'pipefail', '-c', script, 'bench', ...args], opts);
}

/** Like exec, but throws with the tool's stderr when it exits non-zero. */
export async function mustExec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-2000)}`);
  return r;
}

/** Like bash, but throws when the pipeline fails. */
export async function mustBash(script: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await bash(script, args, opts);
  if (r.code !== 0) throw new Error(`bash -c '${script}' ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-2000)}`);
  return r;
}

/** True when the program is on PATH. */
export function haveTool(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
