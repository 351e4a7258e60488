import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachLoop } from '../../../testing/loop-device';
import { must, sha256 } from '../../fat/testing/volume-files';

/**
 * exFAT test images: mkfs.exfat on a file, a loop device over it, files
 * written through exfat-fuse (the kernel here has no exFAT driver), part of
 * them deleted so free clusters keep old data. And the read side: every
 * file of an image, read through a read-only exfat-fuse mount.
 */

export interface ExfatImage {
  file: string;
  /** '/dir/name' -> sha256, for every file still there. */
  files: Map<string, string>;
}

export interface ExfatImageSpec {
  sizeMiB: number;
  waveBytes: number;
  label?: string;
  clusterSize?: string;
  /** Logical sector size: formats through a loop device with that sector size (mkfs.exfat takes the device's). */
  sectorSize?: number;
}

/** Mounts `image` with exfat-fuse over a loop device for `fn`, then unmounts and detaches. */
export async function withExfatMount<T>(image: string, readOnly: boolean, fn: (dir: string) => T | Promise<T>): Promise<T> {
  const mnt = fs.mkdtempSync(path.join(path.dirname(image), 'mnt-'));
  const dev = await attachLoop(image, { readOnly });
  let mounted = false;
  try {
    must('mount.exfat-fuse', [...(readOnly ? ['-o', 'ro'] : []), dev, mnt]);
    mounted = true;
    return await fn(mnt);
  } finally {
    if (mounted) must('fusermount3', ['-u', mnt]);
    await detachLoop(dev);
    fs.rmdirSync(mnt);
  }
}

function writeWave(root: string, wave: string, total: number, files: Map<string, string>): string[] {
  const sizes = [0, 1, 4095, 4096, 4097, 32768 + 5];
  const written: string[] = [];
  let used = 0;
  for (let i = 0; used < total; i++) {
    const size = i < sizes.length ? (sizes[i] as number) : 20_000 + ((i * 7919) % 150_000);
    const rel = `/${wave}-d${i % 3}${i % 5 === 0 ? `/sub${i % 2}` : ''}/${wave} file ${i}.bin`;
    const data = crypto.randomBytes(size);
    fs.mkdirSync(path.join(root, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
    files.set(rel, sha256(data));
    written.push(rel);
    used += size;
  }
  return written;
}

export async function makeExfatImage(dir: string, spec: ExfatImageSpec): Promise<ExfatImage> {
  const file = path.join(dir, `exfat-${spec.sectorSize ?? 512}.img`);
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, '');
  fs.truncateSync(file, spec.sizeMiB << 20);
  const mkfs = (target: string) => must('mkfs.exfat', ['-L', spec.label ?? 'IMPRINTX', ...(spec.clusterSize ? ['-c', spec.clusterSize] : []), target]);
  if (spec.sectorSize) {
    const dev = await attachLoop(file, { sectorSize: spec.sectorSize });
    try {
      mkfs(dev);
    } finally {
      await detachLoop(dev);
    }
  } else {
    mkfs(file);
  }
  const files = new Map<string, string>();
  await withExfatMount(file, false, (mnt) => {
    for (const wave of ['keep', 'gone', 'late']) {
      const written = writeWave(mnt, wave, spec.waveBytes, files);
      if (wave === 'gone') {
        for (const rel of written) files.delete(rel);
        for (let d = 0; d < 3; d++) fs.rmSync(path.join(mnt, `gone-d${d}`), { recursive: true, force: true });
      } else {
        for (const rel of written.filter((r) => /file \d*3\.bin$/.test(r))) {
          fs.rmSync(path.join(mnt, rel));
          files.delete(rel);
        }
      }
    }
  });
  return { file, files };
}

/** Every file of `image` read through a read-only mount: '/dir/name' -> sha256. */
export async function exfatHashes(image: string): Promise<Map<string, string>> {
  return withExfatMount(image, true, (mnt) => {
    const out = new Map<string, string>();
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(mnt, rel), { withFileTypes: true })) {
        const r = `${rel}/${e.name}`;
        if (e.isDirectory()) walk(r);
        else out.set(r, sha256(fs.readFileSync(path.join(mnt, r))));
      }
    };
    walk('');
    return out;
  });
}
