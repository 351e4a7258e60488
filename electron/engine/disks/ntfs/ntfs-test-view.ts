import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileEntry, FilesystemView } from '../filesystem-driver';
import { volumeFromFd } from '../volume';
import { ntfsDriver } from './ntfs-driver';
import type { TreeEntry } from './ntfs-test-volume';

/** Test helpers: walking an image through the driver's view, in the shape walkTree gives a mounted tree. */

export async function withView<T>(image: string, fn: (v: FilesystemView) => Promise<T>): Promise<T> {
  const fd = fs.openSync(image, 'r');
  try {
    return await fn(await ntfsDriver.open!(volumeFromFd(fd, 0, fs.fstatSync(fd).size)));
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a whole file through the view in 256 KiB pieces. */
export async function hashOf(v: FilesystemView, e: FileEntry): Promise<string> {
  const h = crypto.createHash('sha256');
  const piece = 256 * 1024;
  for (let off = 0; off < e.size; off += piece) {
    const b = await v.read(e, off, piece);
    assert.equal(b.length, Math.min(piece, e.size - off));
    h.update(b);
  }
  assert.equal((await v.read(e, e.size, 10)).length, 0, 'nothing past the end');
  return h.digest('hex');
}

/** The view's tree in walkTree's shape and order (names sorted, depth first). */
export async function viewTree(v: FilesystemView): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (dir: FileEntry, rel: string) => {
    const entries = (await v.list(dir)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(rel, e.name);
      const t: TreeEntry = { path: p, kind: e.kind, size: e.kind === 'file' ? e.size : 0, mtimeMs: e.mtimeMs ?? -1 };
      if (e.kind === 'symlink') t.target = await v.readlink(e);
      if (e.kind === 'file') t.sha256 = await hashOf(v, e);
      out.push(t);
      if (e.kind === 'directory') await walk(e, p);
    }
  };
  await walk(v.root(), '');
  return out;
}

export async function find(v: FilesystemView, rel: string): Promise<FileEntry> {
  let e = v.root();
  for (const part of rel.split('/')) {
    const next = (await v.list(e)).find((x) => x.name === part);
    assert.ok(next, `${rel}: ${part} not found`);
    e = next;
  }
  return e;
}
