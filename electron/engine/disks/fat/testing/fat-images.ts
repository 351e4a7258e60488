import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { must, sha256 } from './volume-files';

/**
 * FAT test images made by mkfs.vfat and filled by mtools: files of awkward
 * sizes in nested folders, part of them deleted so free clusters still hold
 * old data, then more files written into the holes so chains fragment.
 */

export interface FatImage {
  file: string;
  /** Path inside the filesystem ('/dir/name') -> sha256 of the content, for every file still there. */
  files: Map<string, string>;
}

export interface FatImageSpec {
  fatBits: 12 | 16 | 32;
  sizeMiB: number;
  /** Bytes of file data in each of the three waves (kept, deleted, written after the delete). */
  waveBytes: number;
  label?: string;
  /** Logical sector size (mkfs.vfat -S); 512 when left out. */
  sectorSize?: number;
}

function writeTree(root: string, wave: string, total: number, files: Map<string, string>, prefix: string): void {
  const sizes = [0, 1, 511, 512, 513, 4095, 4096, 4097, 65536 + 7];
  let used = 0;
  for (let i = 0; used < total; i++) {
    const size = i < sizes.length ? (sizes[i] as number) : 30_000 + ((i * 7919) % 90_000);
    const rel = path.join(`${wave}-d${i % 3}`, i % 5 === 0 ? `sub${i % 2}` : '', `${wave} file ${i}.bin`);
    const data = crypto.randomBytes(size);
    fs.mkdirSync(path.join(root, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
    files.set(`${prefix}/${rel.split(path.sep).join('/')}`, sha256(data));
    used += size;
  }
}

/** Builds the image in `dir`. */
export function makeFatImage(dir: string, spec: FatImageSpec): FatImage {
  const file = path.join(dir, `fat${spec.fatBits}-${spec.sectorSize ?? 512}.img`);
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, '');
  fs.truncateSync(file, spec.sizeMiB << 20);
  const sector = spec.sectorSize ? ['-S', String(spec.sectorSize)] : [];
  must('mkfs.vfat', ['-F', String(spec.fatBits), ...sector, '-n', spec.label ?? `IMPRINT${spec.fatBits}`, file]);
  const files = new Map<string, string>();
  for (const wave of ['keep', 'gone', 'late']) {
    const src = path.join(dir, `src-${wave}`);
    fs.rmSync(src, { recursive: true, force: true });
    fs.mkdirSync(src);
    const waveFiles = new Map<string, string>();
    writeTree(src, wave, spec.waveBytes, waveFiles, '');
    must('mcopy', ['-s', '-i', file, ...fs.readdirSync(src).map((n) => path.join(src, n)), '::/']);
    fs.rmSync(src, { recursive: true, force: true });
    if (wave === 'gone') {
      // Delete the whole wave: its data stays in what are now free clusters.
      for (const top of new Set([...waveFiles.keys()].map((p) => p.split('/')[1] as string))) must('mdeltree', ['-i', file, `::/${top}`]);
    } else {
      for (const [k, v] of waveFiles) {
        // Files numbered ...3 go again: deleted entries (0xE5) stay behind in live folders.
        if (/file \d*3\.bin$/.test(k)) must('mdel', ['-i', file, `::${k}`]);
        else files.set(k, v);
      }
    }
  }
  return { file, files };
}

/** Every file of the image, copied out by mtools into `scratch`: '/dir/name' -> sha256. */
export function mtoolsHashes(image: string, scratch: string): Map<string, string> {
  const out = path.join(scratch, 'mcopy-out');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out);
  must('mcopy', ['-s', '-n', '-m', '-i', image, '::/*', out]);
  const hashes = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(out, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else hashes.set(r, sha256(fs.readFileSync(path.join(out, r))));
    }
  };
  walk('');
  fs.rmSync(out, { recursive: true, force: true });
  return hashes;
}
