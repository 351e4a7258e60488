import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { announcePartitions } from '../../engine/testing/test-drives';
import { createLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { runCli } from '../testing/run-cli';

/** Helpers the backup tests share: drives made and their files hashed with the system's own tools. */

export const MiB = 1 << 20;

export function fillRandom(device: string, size: number): void {
  const fd = fs.openSync(device, 'w');
  try {
    const buf = Buffer.alloc(8 * MiB);
    for (let at = 0; at < size; at += buf.length) {
      crypto.randomFillSync(buf);
      fs.writeSync(fd, buf, 0, Math.min(buf.length, size - at), at);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function hashTree(root: string, into: Map<string, string> = new Map(), rel = ''): Map<string, string> {
  for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
    if (name === 'lost+found') continue;
    const r = path.join(rel, name);
    const st = fs.lstatSync(path.join(root, r));
    if (st.isDirectory()) hashTree(root, into, r);
    else into.set(r, crypto.createHash('sha256').update(fs.readFileSync(path.join(root, r))).digest('hex'));
  }
  return into;
}

/** The files of an ext4 partition, mounted read-only by the kernel. */
export async function extFiles(part: string, scratch: string): Promise<Map<string, string>> {
  const mnt = fs.mkdtempSync(path.join(scratch, 'mnt-'));
  await runTool('mount', ['-o', 'ro', part, mnt], SLOW_TOOL_MS);
  try {
    return hashTree(mnt);
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
    fs.rmdirSync(mnt);
  }
}

/** The files of a FAT partition, copied out with mtools. */
export async function fatFiles(part: string, scratch: string): Promise<Map<string, string>> {
  const out = fs.mkdtempSync(path.join(scratch, 'fat-'));
  try {
    await runTool('mcopy', ['-s', '-n', '-i', part, '::/*', out], SLOW_TOOL_MS);
    return hashTree(out);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** Runs `fn` with an ext4 partition mounted read-write, then unmounts it. */
export async function withMounted(part: string, scratch: string, fn: (dir: string) => void): Promise<void> {
  const mnt = fs.mkdtempSync(path.join(scratch, 'rw-'));
  await runTool('mount', [part, mnt], SLOW_TOOL_MS);
  try {
    fn(mnt);
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
    fs.rmdirSync(mnt);
  }
}

export function randomFile(file: string, bytes: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, crypto.randomBytes(bytes));
}

/** A loop drive over `scratch/name`: one MBR partition of ext4 holding `data` bytes of random files. Remove with removeLoopDevice. */
export async function ext4Drive(scratch: string, name: string, size: number, data: number): Promise<LoopDevice> {
  const d = await createLoopDevice(size, { file: path.join(scratch, name) });
  await runTool('sfdisk', ['-q', d.device], { timeoutMs: SLOW_TOOL_MS, input: 'label: dos\n,,83\n' });
  const [part] = await announcePartitions(d.device, 1);
  await runTool('mkfs.ext4', ['-q', '-F', part as string], SLOW_TOOL_MS);
  await withMounted(part as string, scratch, (dir) => {
    for (let i = 0; i * 4 * MiB < data; i++) randomFile(path.join(dir, `f${i}.bin`), Math.min(4 * MiB, data - i * 4 * MiB));
  });
  return d;
}

/** The ids of a folder's generations, oldest first, as `imprint backups list --json` gives them. */
export async function generations(folder: string): Promise<string[]> {
  const run = await runCli(['backups', 'list', folder, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { generations: { id: string }[] }).generations.map((g) => g.id);
}

/** `imprint backups verify` reads every piece each index names: an interruption left every generation whole. */
export async function assertIntact(folder: string): Promise<void> {
  const run = await runCli(['backups', 'verify', folder, '--json']);
  assert.equal(run.code, 0, `verify after an interruption: ${run.stdout}`);
}
