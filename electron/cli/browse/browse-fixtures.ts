import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';

/**
 * Test fixtures for `imprint ls` / `imprint extract`: a tree of files on the
 * host, and filesystems built from it by their own tools. The host tree is
 * the independent truth the listing and the extracted copy are compared with.
 */

export const MIB = 1 << 20;

/** Nested folders, long and Unicode names, an empty file, an empty folder, a symlink, a file spanning many blocks. */
export function writeTree(root: string, opts: { symlinks: boolean }): void {
  const put = (rel: string, data: Buffer | string): void => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
  };
  put('docs/notes.txt', 'hello\n');
  put('docs/deep/er/still/file.bin', crypto.randomBytes(70_000));
  put('Ünïcødé – ファイル名.txt', 'unicode\n');
  put('a name that is quite a bit longer than eight point three allows.data', crypto.randomBytes(5000));
  put('empty-file', '');
  put('big/random.bin', crypto.randomBytes(3 * MIB + 123));
  fs.mkdirSync(path.join(root, 'empty-folder'));
  for (let i = 0; i < 40; i++) put(`many/file-${String(i).padStart(3, '0')}.txt`, `file ${i}\n`);
  if (opts.symlinks) fs.symlinkSync('docs/notes.txt', path.join(root, 'link-to-notes'));
  // Whole-second times in the past, distinct per file, so a kept time is told from "now".
  let t = 1_600_000_000;
  const stamp = (dir: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (fs.lstatSync(p).isDirectory()) stamp(p);
      t += 2;
      if (fs.lstatSync(p).isSymbolicLink()) fs.lutimesSync(p, t, t);
      else fs.utimesSync(p, t, t);
    }
  };
  stamp(root);
}

export interface HostEntry {
  kind: 'file' | 'directory' | 'symlink';
  size: number;
  mode: number;
  mtimeS: number;
  target?: string;
}

/** Every entry under `root`, by '/'-path from it ('/a/b'). */
export function hostTree(root: string): Map<string, HostEntry> {
  const out = new Map<string, HostEntry>();
  const visit = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      const r = `${rel}/${name}`;
      const kind = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'file';
      out.set(r, { kind, size: st.size, mode: st.mode & 0o777, mtimeS: Math.floor(st.mtimeMs / 1000), ...(kind === 'symlink' ? { target: fs.readlinkSync(p) } : {}) });
      if (kind === 'directory') visit(p, r);
    }
  };
  visit(root, '');
  return out;
}

export function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** An ext4 image of `size` bytes holding `tree` (mkfs.ext4 -d). `csum: false` leaves out metadata checksums, for hand-edited images. */
export async function makeExt4(file: string, size: number, tree: string, opts: { csum?: boolean; label?: string } = {}): Promise<void> {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  const features = opts.csum === false ? ['-O', '^metadata_csum,^64bit'] : [];
  await runTool('mkfs.ext4', ['-q', '-F', '-L', opts.label ?? 'EXTPART', '-d', tree, ...features, file], SLOW_TOOL_MS);
}

/** A FAT32 image holding `tree`, copied in by mtools with times kept (TZ=UTC: FAT stores local time). */
export async function makeFat(file: string, size: number, tree: string): Promise<void> {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  await runTool('mkfs.vfat', ['-F', '32', '-n', 'FATPART', file], SLOW_TOOL_MS);
  const entries = fs.readdirSync(tree).map((n) => path.join(tree, n));
  await runTool('env', ['TZ=UTC', 'MTOOLS_NO_VFAT=0', 'mcopy', '-s', '-m', '-i', file, ...entries, '::/'], SLOW_TOOL_MS);
}

/** A GPT disk image: each part's image copied to its partition, in order, after 1 MiB; `null` leaves a partition of zeros. */
export async function makeGptDisk(file: string, parts: { image: string | null; size: number; type: string }[]): Promise<void> {
  const total = MIB + parts.reduce((s, p) => s + p.size, 0) + MIB;
  fs.writeFileSync(file, '');
  fs.truncateSync(file, total);
  const script = ['label: gpt', ...parts.map((p) => `size=${p.size / 512}, type=${p.type}`)].join('\n') + '\n';
  await runTool('sfdisk', ['-q', file], { input: script });
  let at = MIB;
  const fd = fs.openSync(file, 'r+');
  try {
    for (const p of parts) {
      if (p.image) {
        const data = fs.readFileSync(p.image);
        fs.writeSync(fd, data, 0, data.length, at);
      }
      at += p.size;
    }
  } finally {
    fs.closeSync(fd);
  }
}
