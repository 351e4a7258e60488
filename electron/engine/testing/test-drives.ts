import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from './loop-device';
import { SLOW_TOOL_MS, runTool } from './run-tool';

/**
 * Real drives for the backup tests: loop devices over pre-allocated files,
 * partitioned with sfdisk, formatted with mkfs, filled with files. The kernel
 * on the test machines has no partition-table parsers, so partitions are
 * announced with `partx -a` (BLKPG), which works on any kernel; it also has no
 * vfat driver, so FAT drives are filled with mtools instead of a mount.
 * Devices come from loop-device.ts and tools run through run-tool.ts, the
 * harness's one way of each.
 */

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imprint-${prefix}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Tells the kernel about the partitions on `device` and waits for their device nodes. */
export async function announcePartitions(device: string, count: number): Promise<string[]> {
  await runTool('partx', ['-d', device], { allowFail: true });
  await runTool('partx', ['-a', device]);
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
export async function makeExt4Drive(file: string, size: number, mountDir: string): Promise<LoopDevice> {
  const drive = await createLoopDevice(size, { file });
  try {
    await runTool('sfdisk', ['-q', drive.device], { input: 'label: dos\n,,83\n' });
    const [part] = await announcePartitions(drive.device, 1);
    await runTool('mkfs.ext4', ['-q', '-F', '-L', 'imprint-ext4', part as string], SLOW_TOOL_MS);
    fs.mkdirSync(mountDir, { recursive: true });
    await runTool('mount', [part as string, mountDir]);
    try {
      writeMixedFiles(mountDir, 1);
    } finally {
      await runTool('umount', [mountDir], SLOW_TOOL_MS);
    }
    return drive;
  } catch (err) {
    await removeLoopDevice(drive);
    throw err;
  }
}

/** A drive with a GPT and one FAT32 partition holding mixed files (copied with mtools). */
export async function makeFat32Drive(file: string, size: number, stagingDir: string): Promise<LoopDevice> {
  const drive = await createLoopDevice(size, { file });
  try {
    await runTool('sfdisk', ['-q', drive.device], { input: 'label: gpt\n,,U\n' });
    const [part] = await announcePartitions(drive.device, 1);
    // One sector per cluster: a FAT32 needs at least 65525 clusters, which this keeps possible on a small test drive.
    await runTool('mkfs.vfat', ['-F', '32', '-s', '1', '-n', 'IMPRINTFAT', part as string], SLOW_TOOL_MS);
    fs.mkdirSync(stagingDir, { recursive: true });
    writeMixedFiles(stagingDir, 2);
    await runTool('mcopy', ['-s', '-i', part as string, ...fs.readdirSync(stagingDir).map((n) => path.join(stagingDir, n)), '::/'], SLOW_TOOL_MS);
    return drive;
  } catch (err) {
    await removeLoopDevice(drive);
    throw err;
  }
}

/** True when two devices or files hold the same bytes (cmp, which reads both to the end). */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await runTool('cmp', ['--silent', a, b], { allowFail: true, timeoutMs: SLOW_TOOL_MS })).code === 0;
}
