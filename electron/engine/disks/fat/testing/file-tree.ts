import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { FileEntry, FilesystemView } from '../../filesystem-driver';
import { sha256 } from './volume-files';

/**
 * The tree the listing tests write into a FAT or exFAT volume (nested
 * folders, one big folder, long, Unicode and case-mixed names, empty files
 * and folders), and a walk of a view or of a folder on disk into one
 * comparable form.
 */

export interface TreeEntry {
  kind: 'file' | 'directory';
  size: number;
  /** Whole seconds since 1970 (FAT keeps 2 s steps; the trees use even seconds). */
  mtime?: number;
  sha256?: string;
}

const BASE_TIME = Date.UTC(2021, 4, 17, 13, 42, 10) / 1000;

/**
 * Writes the test tree under `root`; `manyCount` files go into one folder.
 * `astral`: include a name outside the Basic Multilingual Plane (mtools
 * cannot store one in a long name; exFAT can).
 */
export function writeTestTree(root: string, manyCount: number, astral: boolean): void {
  let n = 0;
  const put = (rel: string, data: Buffer) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    const t = BASE_TIME + 2 * 3607 * n++;
    fs.utimesSync(p, t, t);
  };
  put('a/b/c/d/e/deep.txt', Buffer.from('deep down\n'));
  put('a/b/side.bin', crypto.randomBytes(70_000));
  put(`${'A long file name that goes on and on '.repeat(5)}end.txt`, Buffer.from('long\n'));
  put('Ünïcödé ñame – 文件.txt', Buffer.from('unicode\n'));
  if (astral) put('emoji 🚀 file.bin', crypto.randomBytes(100));
  put('empty.txt', Buffer.alloc(0));
  put('lower.txt', Buffer.from('l'));
  put('UPPER.TXT', Buffer.from('U'));
  put('lowbase.TXT', Buffer.from('lb'));
  put('MiXeD.txt', Buffer.from('mixed'));
  put('big.bin', crypto.randomBytes(300_000));
  put('loop.bin', crypto.randomBytes(20_000));
  for (let i = 0; i < manyCount; i++) put(`many/f${String(i).padStart(4, '0')}.txt`, Buffer.from(`file ${i}\n`));
  fs.mkdirSync(path.join(root, 'emptydir'));
}

/** Every entry under `root` on disk: '/a/b' -> entry. */
export function walkDisk(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      const st = fs.statSync(path.join(root, r));
      if (e.isDirectory()) {
        out.set(r, { kind: 'directory', size: 0 });
        walk(r);
      } else {
        out.set(r, { kind: 'file', size: st.size, mtime: Math.floor(st.mtimeMs / 1000), sha256: sha256(fs.readFileSync(path.join(root, r))) });
      }
    }
  };
  walk('');
  return out;
}

/** Every entry of a view, files read through it; folders that fail to list are recorded in `errors`. */
export async function walkView(view: FilesystemView, errors: Map<string, string> = new Map()): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (dir: FileEntry, rel: string) => {
    let entries: FileEntry[];
    try {
      entries = await view.list(dir);
    } catch (err) {
      errors.set(rel || '/', (err as Error).message);
      return;
    }
    for (const e of entries) {
      const r = `${rel}/${e.name}`;
      if (e.kind === 'directory') {
        out.set(r, { kind: 'directory', size: 0 });
        await walk(e, r);
      } else {
        try {
          const data = await view.read(e, 0, e.size);
          out.set(r, { kind: 'file', size: e.size, mtime: e.mtimeMs === undefined ? undefined : Math.floor(e.mtimeMs / 1000), sha256: sha256(data) });
        } catch (err) {
          errors.set(r, (err as Error).message);
        }
      }
    }
  };
  await walk(view.root(), '');
  return out;
}
