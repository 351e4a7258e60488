import { execFile, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { JobEvent, JobFinishedEvent } from '../../../shared/job-events';
import type { ErrorInfo } from '../../../shared/error-codes';

/**
 * Real drives for the backup tests: loop devices over pre-allocated files,
 * partitioned with sfdisk, formatted with mkfs, filled with files. The kernel
 * on the test machines has no partition-table parsers, so partitions are
 * announced with `partx -a` (BLKPG), which works on any kernel; it also has no
 * vfat driver, so FAT drives are filled with mtools instead of a mount.
 */

/** The repository root: this file runs from out/electron/engine/backup/testing/. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const BIN = path.join(REPO_ROOT, 'bin', 'imprint.js');

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (argv, never a shell string); rejects on a non-zero exit unless `allowFail`. */
export function tool(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      if (err && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr || err.message}`));
      else resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imprint-${prefix}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface LoopDrive {
  device: string;
  file: string;
  size: number;
}

/** A loop device over a new pre-allocated file of `size` bytes (zeros). Detach with `detachDrive`. */
export async function makeLoopDrive(file: string, size: number): Promise<LoopDrive> {
  fs.writeFileSync(file, '');
  await tool('fallocate', ['-l', String(size), file]);
  const device = (await tool('losetup', ['-f', '--show', '--direct-io=on', file])).stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed "${device}"`);
  return { device, file, size };
}

/** Detaches a loop device this test made; tolerant of one already gone. */
export async function detachDrive(drive: LoopDrive | null | undefined): Promise<void> {
  if (!drive) return;
  await tool('partx', ['-d', drive.device], { allowFail: true });
  await tool('losetup', ['-d', drive.device], { allowFail: true });
}

/** Tells the kernel about the partitions on `device` and waits for their device nodes. */
export async function announcePartitions(device: string, count: number): Promise<string[]> {
  await tool('partx', ['-d', device], { allowFail: true });
  await tool('partx', ['-a', device]);
  const nodes = Array.from({ length: count }, (_, i) => `${device}p${i + 1}`);
  for (let i = 0; i < 50 && !nodes.every((n) => fs.existsSync(n)); i++) await new Promise((r) => setTimeout(r, 100));
  for (const n of nodes) if (!fs.existsSync(n)) throw new Error(`${n} did not appear after partx -a`);
  return nodes;
}

/** Deterministic, poorly compressible bytes (so compression has real work), seeded. */
export function noise(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, Math.min(i, bytes - 4));
  }
  return out;
}

/** Mixed files: text (compressible), noise (not), an empty file and a sparse-looking run of zeros. */
export function writeMixedFiles(dir: string, seed: number): void {
  fs.mkdirSync(path.join(dir, 'docs', 'deep'), { recursive: true });
  const text = Array.from({ length: 20000 }, (_, i) => `line ${i} of seed ${seed}: the quick brown fox\n`).join('');
  fs.writeFileSync(path.join(dir, 'docs', 'readme.txt'), text);
  fs.writeFileSync(path.join(dir, 'docs', 'deep', 'noise.bin'), noise(1 << 20, seed));
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.writeFileSync(path.join(dir, 'zeros.bin'), Buffer.alloc(1 << 20));
}

/** A drive with an MBR and one ext4 partition holding mixed files (mounted, filled, unmounted). */
export async function makeExt4Drive(file: string, size: number, mountDir: string): Promise<LoopDrive> {
  const drive = await makeLoopDrive(file, size);
  try {
    await tool('sfdisk', ['-q', drive.device], { input: 'label: dos\n,,83\n' });
    const [part] = await announcePartitions(drive.device, 1);
    await tool('mkfs.ext4', ['-q', '-F', '-L', 'imprint-ext4', part as string]);
    fs.mkdirSync(mountDir, { recursive: true });
    await tool('mount', [part as string, mountDir]);
    try {
      writeMixedFiles(mountDir, 1);
    } finally {
      await tool('umount', [mountDir]);
    }
    return drive;
  } catch (err) {
    await detachDrive(drive);
    throw err;
  }
}

/** A drive with a GPT and one FAT32 partition holding mixed files (copied with mtools). */
export async function makeFat32Drive(file: string, size: number, stagingDir: string): Promise<LoopDrive> {
  const drive = await makeLoopDrive(file, size);
  try {
    await tool('sfdisk', ['-q', drive.device], { input: 'label: gpt\n,,U\n' });
    const [part] = await announcePartitions(drive.device, 1);
    // One sector per cluster: a FAT32 needs at least 65525 clusters, which this keeps possible on a small test drive.
    await tool('mkfs.vfat', ['-F', '32', '-s', '1', '-n', 'IMPRINTFAT', part as string]);
    fs.mkdirSync(stagingDir, { recursive: true });
    writeMixedFiles(stagingDir, 2);
    await tool('mcopy', ['-s', '-i', part as string, ...fs.readdirSync(stagingDir).map((n) => path.join(stagingDir, n)), '::/']);
    return drive;
  } catch (err) {
    await detachDrive(drive);
    throw err;
  }
}

/** True when two devices or files hold the same bytes (cmp, which reads both to the end). */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await tool('cmp', ['--silent', a, b], { allowFail: true })).code === 0;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  events: JobEvent[];
  finished: JobFinishedEvent | null;
  /** The error line printed with --json when the command was refused before a job. */
  error: ErrorInfo | null;
}

function parseRun(code: number | null, stdout: string, stderr: string): CliRun {
  const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const events = lines.filter((l) => typeof l.jobId === 'string') as unknown as JobEvent[];
  const finished = (events.find((e) => e.type === 'job-finished') as JobFinishedEvent | undefined) ?? null;
  const errLine = lines.find((l) => l.type === 'error') as { error: ErrorInfo } | undefined;
  return { code, stdout, stderr, events, finished, error: errLine?.error ?? null };
}

/** Starts `imprint ARGS` with stdin not a terminal (as from a script); the caller may signal it. */
export function spawnImprint(args: string[]): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end();
  const done = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve(parseRun(code, stdout, stderr))));
  return { child, done };
}

/** Runs `imprint ARGS` to its end. */
export function imprint(...args: string[]): Promise<CliRun> {
  return spawnImprint(args).done;
}
