import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureDir } from '../../testing/image-fixtures';
import { runTool } from '../../testing/run-tool';
import type { FileEntry, FilesystemView } from '../filesystem-driver';
import { volumeFromFd } from '../volume';
import { ntfsDriver } from './ntfs-driver';
import { makePopulatedNtfs, ntfsinfoRuns, patchRecord, walkTree, withNtfsMount, type TreeEntry } from './ntfs-test-volume';

/**
 * Browsing NTFS against ntfs-3g's own view of the same volume (a read-only
 * FUSE mount): every entry's name, kind, size, mtime, link target and
 * content hash must match.
 */

async function withView<T>(image: string, fn: (v: FilesystemView) => Promise<T>): Promise<T> {
  const fd = fs.openSync(image, 'r');
  try {
    return await fn(await ntfsDriver.open!(volumeFromFd(fd, 0, fs.fstatSync(fd).size)));
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a whole file through the view in 256 KiB pieces. */
async function hashOf(v: FilesystemView, e: FileEntry): Promise<string> {
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
async function viewTree(v: FilesystemView): Promise<TreeEntry[]> {
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

async function find(v: FilesystemView, rel: string): Promise<FileEntry> {
  let e = v.root();
  for (const part of rel.split('/')) {
    const next = (await v.list(e)).find((x) => x.name === part);
    assert.ok(next, `${rel}: ${part} not found`);
    e = next;
  }
  return e;
}

describe('NTFS view', () => {
  let image = '';
  let tree: TreeEntry[] = [];
  before(async () => {
    image = await makePopulatedNtfs('view.img', { sizeMiB: 64, clusterSize: 4096, label: 'Ünïcode Vol' });
    tree = (await withNtfsMount(image, true, async (dir) => walkTree(dir))).map((t) => ({ ...t, mtimeMs: Math.floor(t.mtimeMs) }));
  });
  after(() => fs.rmSync(image, { force: true }));

  test('lists and reads every entry as ntfs-3g does', async () => {
    await withView(image, async (v) => {
      assert.equal(v.filesystem, 'ntfs');
      assert.equal(v.label, 'Ünïcode Vol');
      const mine = await viewTree(v);
      const paths = new Set(mine.map((t) => t.path));
      // The fixture has what it should: a big folder, symlinks of both kinds, compressed files.
      assert.ok(tree.filter((t) => t.path.startsWith('many/')).length === 2000);
      for (const p of ['interix-link', 'windows-link', 'compressed/text.txt', 'sparse.bin', 'empty', 'Program Files Long Name.txt']) assert.ok(paths.has(p), p);
      assert.ok(!paths.has('PROGRA~1.TXT'), 'the DOS alias is not listed');
      assert.deepEqual(mine, tree);
      assert.ok(v.warnings.some((w) => /"top\.txt" has alternate data streams \(secret\)/.test(w)), v.warnings.join('\n'));
    });
  });

  test('the compressed files really are compressed on disk', async () => {
    const info = (await runTool('ntfsinfo', ['-v', '-F', '/compressed/text.txt', image])).stdout;
    assert.match(info, /Attribute flags:\s+0x0001/);
    assert.match(info, /<HOLE>/);
  });

  test('reads at any offset, and short only at the end', async () => {
    await withView(image, async (v) => {
      const e = await find(v, 'backwards.bin');
      const whole = await v.read(e, 0, e.size);
      for (const [off, len] of [[4095, 2], [123_457, 70_001], [e.size - 10, 100]] as const) {
        assert.deepEqual(await v.read(e, off, len), whole.subarray(off, off + len));
      }
      const c = await find(v, 'compressed/mixed.bin');
      const cw = await v.read(c, 0, c.size);
      assert.deepEqual(await v.read(c, 65_530, 70_000), cw.subarray(65_530, 135_530));
    });
  });

  test('a damaged MFT record fails its own entry; the rest still lists and reads', async () => {
    const copy = path.join(fixtureDir(), 'view-damaged.img');
    fs.copyFileSync(image, copy);
    try {
      const victim = await withView(copy, async (v) => (await find(v, 'many/file-01000.txt')).ref as { record: number });
      const [mftRun] = await ntfsinfoRuns(copy, 0);
      assert.ok(mftRun && (victim.record + 1) * 1024 <= mftRun.length * 4096, 'the record lies in the MFT\'s first run');
      patchRecord(copy, victim.record, (rec) => {
        rec[510] = (rec[510] as number) ^ 0x55; // first sector's tail no longer carries the update sequence number
      });
      await withView(copy, async (v) => {
        const many = await v.list(await find(v, 'many'));
        assert.equal(many.length, 2000);
        const bad = many.find((e) => e.name === 'file-01000.txt') as FileEntry;
        assert.ok(bad);
        assert.ok(v.warnings.some((w) => w.includes(`MFT record ${victim.record} is damaged: torn write`)), v.warnings.join('\n'));
        await assert.rejects(v.read(bad, 0, 10), /cannot be read: MFT record \d+ is damaged/);
        const good = many.find((e) => e.name === 'file-01001.txt') as FileEntry;
        assert.equal((await v.read(good, 0, 1000)).toString(), 'entry 1001\n'.repeat(1001 % 7));
      });
    } finally {
      fs.rmSync(copy, { force: true });
    }
  });

  test('a volume that is not NTFS cannot be opened, with a reason', async () => {
    const p = path.join(fixtureDir(), 'zeros.img');
    fs.writeFileSync(p, Buffer.alloc(1024 * 1024));
    await assert.rejects(withView(p, async () => undefined), /This NTFS volume cannot be opened: the boot sector has no NTFS signature/);
    fs.rmSync(p);
  });
});
