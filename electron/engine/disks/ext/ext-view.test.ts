import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runTool } from '../../testing/run-tool';
import type { FileEntry, FilesystemView } from '../filesystem-driver';
import { extDriver } from './ext-driver';
import {
  MOUNT_SKIP, debugfs, editSuperblock, fsckClean, imageFileHashes, makeImage, openVolume, tempDir, withMounted, writeTree,
} from './ext-test-fixtures';

const MiB = 1 << 20;
const GiB = 1 << 30;
/** Files larger than this are compared at chosen offsets only (a 5 GiB sparse file would take seconds to hash). */
const HASH_WHOLE = 64 * MiB;

interface Spec {
  name: string;
  mkfs: string;
  size: number;
  args: string[];
  bigDir: number;
  sparseAt: number;
  filesystem: string;
  /** The big folder gets an htree index (dir_index). */
  htree: boolean;
}

const SPECS: Spec[] = [
  { name: 'ext4 (extents, htree, metadata_csum), 4 KiB blocks', mkfs: 'mkfs.ext4', size: 256 * MiB, args: [], bigDir: 10_000, sparseAt: 5 * GiB, filesystem: 'ext4', htree: true },
  { name: 'ext3 (block maps up to triple indirect), 1 KiB blocks', mkfs: 'mkfs.ext3', size: 128 * MiB, args: ['-b', '1024'], bigDir: 2_000, sparseAt: 3 * GiB, filesystem: 'ext3', htree: true },
  { name: 'ext4 with inline_data', mkfs: 'mkfs.ext4', size: 64 * MiB, args: ['-O', 'inline_data', '-I', '512'], bigDir: 300, sparseAt: 2 * GiB, filesystem: 'ext4', htree: true },
  // Revision 0: no feature flags at all, so no file type in folder entries and 128-byte inodes.
  { name: 'ext2 revision 0 (no file types, 128-byte inodes)', mkfs: 'mkfs.ext2', size: 64 * MiB, args: ['-r', '0'], bigDir: 300, sparseAt: 1 * GiB, filesystem: 'ext2', htree: false },
];

const LONG = 'L'.repeat(251) + '.txt';
const UNICODE = 'Ünïcödé – 日本語 🎉.txt';
const SLOW_TARGET = 'x/'.repeat(60) + 'target';

/** Offsets where the sparse file holds data. */
const sparseOffsets = (s: Spec) => [0, MiB + 5, 100 * MiB, s.sparseAt];

/** Fills a mounted filesystem with what the tests look for. */
async function fill(mnt: string, s: Spec): Promise<void> {
  const p = (...parts: string[]) => path.join(mnt, ...parts);
  fs.mkdirSync(p('nested/a/b/c/d/e'), { recursive: true });
  fs.writeFileSync(p('nested/a/b/c/d/e/deep.txt'), 'deep\n');
  fs.writeFileSync(p('nested/a/small.txt'), 'hello\n');
  fs.mkdirSync(p('big'));
  for (let i = 0; i < s.bigDir; i++) fs.writeFileSync(p('big', `file-${String(i).padStart(5, '0')}`), i % 10 === 0 ? '' : `${i}\n`);
  fs.writeFileSync(p(LONG), 'long name\n');
  fs.writeFileSync(p(UNICODE), 'unicode\n');
  fs.writeFileSync(p('empty'), '');
  fs.writeFileSync(p('random-3m'), crypto.randomBytes(3 * MiB + 17));
  fs.writeFileSync(p('random-300k'), crypto.randomBytes(300 * 1024 + 1));
  fs.writeFileSync(p('inline-size'), 'x'.repeat(100));
  // Sparse: a few blocks far apart, size > 4 GiB on ext4.
  const fd = fs.openSync(p('sparse'), 'w');
  for (const at of sparseOffsets(s)) fs.writeSync(fd, crypto.randomBytes(5000), 0, 5000, at);
  fs.closeSync(fd);
  // Every other 4 KiB block written: hundreds of extents, so the extent tree needs depth >= 1.
  const holes = fs.openSync(p('holes'), 'w');
  for (let at = 0; at < 4 * MiB; at += 8192) fs.writeSync(holes, crypto.randomBytes(4096), 0, 4096, at);
  fs.closeSync(holes);
  // Preallocated (unwritten extents), with data written in the middle; ext3 has no fallocate.
  if (s.filesystem === 'ext4') await runTool('fallocate', ['-l', String(2 * MiB), p('prealloc')]);
  const pre = fs.openSync(p('prealloc'), fs.constants.O_RDWR | fs.constants.O_CREAT);
  fs.writeSync(pre, Buffer.alloc(10000, 0x77), 0, 10000, 700_000);
  fs.closeSync(pre);
  fs.symlinkSync('nested/a/small.txt', p('fast-link'));
  fs.symlinkSync(SLOW_TARGET, p('slow-link'));
  fs.linkSync(p('random-300k'), p('hard-link'));
  fs.chmodSync(p('random-300k'), 0o4751);
  fs.utimesSync(p('nested/a/small.txt'), new Date('2100-01-02T03:04:05.678Z'), new Date('2100-01-02T03:04:05.678Z'));
  fs.utimesSync(p('empty'), new Date('1965-06-07T08:09:10.5Z'), new Date('1965-06-07T08:09:10.5Z'));
}

interface Seen {
  kind: string;
  size: number;
  mode: number;
  mtimeMs: number;
  content?: string;
}

function hashChunks(chunks: Buffer[]): string {
  const h = crypto.createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

/** What the kernel shows through a read-only mount: the reference. */
function walkMount(root: string, s: Spec): Map<string, Seen> {
  const out = new Map<string, Seen>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const p = path.join(rel, name);
      const st = fs.lstatSync(path.join(root, p));
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
      const seen: Seen = { kind, size: st.size, mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs) };
      if (st.isSymbolicLink()) seen.content = fs.readlinkSync(path.join(root, p));
      if (st.isFile()) {
        if (st.size <= HASH_WHOLE) {
          seen.content = hashChunks([fs.readFileSync(path.join(root, p))]);
        } else {
          const fd = fs.openSync(path.join(root, p), 'r');
          seen.content = hashChunks(sparseOffsets(s).map((at) => {
            const b = Buffer.alloc(8192);
            return b.subarray(0, fs.readSync(fd, b, 0, 8192, at));
          }));
          fs.closeSync(fd);
        }
      }
      out.set(p, seen);
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

/** The same through the reader. */
async function walkView(view: FilesystemView, s: Spec): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  const walk = async (dir: FileEntry, rel: string, depth: number) => {
    assert.ok(depth < 20, 'folders nest deeper than the fixture');
    for (const e of await view.list(dir)) {
      const p = path.join(rel, e.name);
      const seen: Seen = { kind: e.kind, size: e.size, mode: e.mode!, mtimeMs: e.mtimeMs! };
      if (e.kind === 'symlink') seen.content = await view.readlink(e);
      if (e.kind === 'file') {
        if (e.size <= HASH_WHOLE) {
          const parts: Buffer[] = [];
          for (let at = 0; at < e.size; at += 1_000_003) parts.push(await view.read(e, at, 1_000_003));
          assert.equal(parts.reduce((n, b) => n + b.length, 0), e.size, `${p}: bytes read`);
          seen.content = hashChunks(parts);
        } else {
          seen.content = hashChunks(await Promise.all(sparseOffsets(s).map((at) => view.read(e, at, 8192))));
        }
      }
      out.set(p, seen);
      if (e.kind === 'directory') await walk(e, p, depth + 1);
    }
  };
  await walk(view.root(), '', 0);
  return out;
}

let work: string;
before(() => {
  work = tempDir('imprint-ext-view-');
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

async function withView<T>(img: string, fn: (v: FilesystemView) => Promise<T>): Promise<T> {
  const { volume, close } = openVolume(img);
  try {
    return await fn(await extDriver.open!(volume));
  } finally {
    close();
  }
}

async function find(view: FilesystemView, rel: string): Promise<FileEntry> {
  let cur = view.root();
  for (const part of rel.split('/')) {
    const next = (await view.list(cur)).find((e) => e.name === part);
    assert.ok(next, `${rel}: ${part} not found`);
    cur = next;
  }
  return cur;
}

describe('ext file views of images only libext2fs can write here', () => {
  // The kernel here (4 KiB pages) cannot mount 64 KiB blocks, and bigalloc is
  // refused for maps but readable: compared with debugfs (libext2fs) instead.
  const cases = [
    { name: '64 KiB blocks (rec_len encoding of 64 KiB folder blocks)', args: ['-b', '65536'] },
    { name: 'bigalloc, 16 KiB clusters', args: ['-O', 'bigalloc', '-C', '16384'] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const src = path.join(work, 'src');
      fs.rmSync(src, { recursive: true, force: true });
      fs.mkdirSync(src);
      writeTree(src, 40, 200_000);
      const img = path.join(work, 'lib.img');
      await makeImage(img, 128 * MiB, 'mkfs.ext4', c.args, src);
      await fsckClean(img);
      const want = await imageFileHashes(img);
      const got = new Map<string, string>();
      await withView(img, async (view) => {
        const walk = async (dir: FileEntry, rel: string) => {
          for (const e of await view.list(dir)) {
            const p = path.join(rel, e.name);
            if (e.kind === 'directory') await walk(e, p);
            else got.set(p, hashChunks([await view.read(e, 0, e.size + 1)]));
          }
        };
        await walk(view.root(), '');
      });
      assert.equal(want.size, 40);
      assert.deepEqual(got, want);
      fs.rmSync(img, { force: true });
    });
  }
});

// Both suites fill their filesystems through the kernel, and the first compares with a mount.
describe('ext file views against a read-only kernel mount', { skip: MOUNT_SKIP }, () => {
  for (const s of SPECS) {
    it(s.name, async () => {
      const img = path.join(work, 'view.img');
      await makeImage(img, s.size, s.mkfs, s.args);
      await withMounted(img, (mnt) => fill(mnt, s));
      await fsckClean(img);
      const want = await withMounted(img, (mnt) => walkMount(mnt, s));
      const got = await withView(img, async (view) => {
        assert.equal(view.filesystem, s.filesystem);
        assert.deepEqual(view.warnings, []);
        return walkView(view, s);
      });
      assert.ok(want.size > s.bigDir + 15, `${want.size} entries`);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
      for (const [p, w] of want) assert.deepEqual(got.get(p), w, p);

      // The fixture really has what it claims (checked with debugfs, not with the reader).
      const bigFlags = Number(/Flags: (0x[0-9a-f]+)/.exec(await debugfs(img, ['stat /big']))![1]);
      assert.equal((bigFlags & 0x1000) !== 0, s.htree, 'big folder is hashed (htree, INDEX_FL)');
      const stat = await debugfs(img, ['stat /holes', 'stat /inline-size', 'stat /sparse']);
      if (s.filesystem === 'ext4' && !s.args.includes('inline_data')) assert.match(stat, /\(ETB0\)/, 'holes has an extent tree of depth >= 1');
      if (s.args.includes('inline_data')) assert.match(stat, /Size of inline data: \d+/);
      if (s.filesystem === 'ext3') assert.match(stat, /\(TIND\)/, 'sparse uses a triple indirect block');
      fs.rmSync(img, { force: true });
    });
  }
});

describe('ext damage stays in its folder', { skip: MOUNT_SKIP }, () => {
  const spec = SPECS[0]!;
  let img: string;
  before(async () => {
    img = path.join(work, 'damage.img');
    await makeImage(img, 64 * MiB, spec.mkfs, ['-b', '4096']);
    await withMounted(img, async (mnt) => {
      fs.mkdirSync(path.join(mnt, 'nested/a'), { recursive: true });
      fs.mkdirSync(path.join(mnt, 'sibling'));
      fs.writeFileSync(path.join(mnt, 'nested/a/x'), 'x');
      fs.writeFileSync(path.join(mnt, 'sibling/y'), 'y');
    });
  });

  it('a zeroed folder block is an error for that folder only', async () => {
    const p = path.join(work, 'zeroed.img');
    fs.copyFileSync(img, p);
    const block = Number((await debugfs(p, ['blocks /nested/a'])).trim().split(/\s+/).pop());
    assert.ok(block > 0);
    const fd = fs.openSync(p, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096), 0, 4096, block * 4096);
    fs.closeSync(fd);
    await withView(p, async (view) => {
      const a = await find(view, 'nested/a');
      await assert.rejects(view.list(a), /folder inode \d+, block 0: damaged entry at byte 0 \(record length 0/);
      assert.deepEqual((await view.list(await find(view, 'sibling'))).map((e) => e.name), ['y']);
      assert.deepEqual((await view.list(view.root())).map((e) => e.name).sort(), ['lost+found', 'nested', 'sibling']);
    });
  });

  it('a folder that contains itself is reported, not followed', async () => {
    const p = path.join(work, 'loop.img');
    fs.copyFileSync(img, p);
    await debugfs(p, ['ln /nested /nested/self'], true);
    await withView(p, async (view) => {
      const names = (await view.list(await find(view, 'nested'))).map((e) => e.name);
      assert.deepEqual(names, ['a']);
      assert.ok(view.warnings.some((w) => /lists itself as "self"; not followed/.test(w)), view.warnings.join('\n'));
    });
  });

  it('an entry pointing at a free inode is left out with a warning', async () => {
    const p = path.join(work, 'free.img');
    fs.copyFileSync(img, p);
    // Two names for one inode, then the inode cleared (clri): both names now point at nothing.
    await debugfs(p, ['ln /sibling/y /sibling/z', 'clri /sibling/y'], true);
    await withView(p, async (view) => {
      assert.deepEqual((await view.list(await find(view, 'sibling'))).map((e) => e.name), []);
      assert.equal(view.warnings.filter((w) => /not in use/.test(w)).length, 2, view.warnings.join('\n'));
    });
  });

  it('an extent tree deeper than the kernel allows is an error for that file', async () => {
    const p = path.join(work, 'depth.img');
    fs.copyFileSync(img, p);
    // i_block[1] is the root header's max (low 16 bits) and depth (high 16 bits).
    await debugfs(p, ['sif /sibling/y block[1] 0x60004'], true);
    await withView(p, async (view) => {
      const y = await find(view, 'sibling/y');
      await assert.rejects(view.read(y, 0, 10), /extent tree depth 6/);
      assert.equal((await view.read(await find(view, 'nested/a/x'), 0, 10)).toString(), 'x');
    });
  });

  it('a filesystem marked as needing recovery still opens, with a warning', async () => {
    const p = path.join(work, 'recover.img');
    fs.copyFileSync(img, p);
    editSuperblock(p, (sb) => sb.writeUInt32LE(sb.readUInt32LE(0x60) | 0x4, 0x60), true);
    await withView(p, async (view) => {
      assert.match(view.warnings.join('\n'), /marked as needing recovery, but its journal holds nothing to replay/);
      assert.deepEqual((await view.list(await find(view, 'sibling'))).map((e) => e.name), ['y']);
    });
  });
});
