import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureDir } from '../../testing/image-fixtures';
import { runTool } from '../../testing/run-tool';
import type { FileEntry } from '../filesystem-driver';
import { makeNtfs, makePopulatedNtfs, ntfsinfoRuns, patchRecord, setXattr, walkTree, withNtfsMount, type TreeEntry } from './ntfs-test-volume';
import { find, viewTree, withView } from './ntfs-test-view';

/**
 * Browsing NTFS against ntfs-3g's own view of the same volume (a read-only
 * FUSE mount): every entry's name, kind, size, mtime, link target and
 * content hash must match.
 */

describe('NTFS view', () => {
  let image = '';
  let tree: TreeEntry[] = [];
  before(async () => {
    image = await makePopulatedNtfs('view.img', { sizeMiB: 64, clusterSize: 4096, label: 'Ünïcode Vol' });
    tree = await withNtfsMount(image, true, async (dir) => walkTree(dir));
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

  test('the fixture has the structures the listing test is meant to cover (per ntfsinfo)', async () => {
    const info = async (file: string) => (await runTool('ntfsinfo', ['-v', '-F', file, image])).stdout;
    const compressed = await info('/compressed/text.txt');
    assert.match(compressed, /Attribute flags:\s+0x0001/);
    assert.match(compressed, /<HOLE>/);
    assert.match(await info('/sparse.bin'), /<HOLE>/);
    assert.match(await info('/backwards.bin'), /Dumping attribute \$ATTRIBUTE_LIST/);
    assert.match(await info('/many'), /Dumping attribute \$INDEX_ALLOCATION/);
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

  test('reparse points whose data lies elsewhere (WOF-compressed, cloud placeholders) list but do not read as plain files', async () => {
    const p = path.join(fixtureDir(), 'reparse.img');
    await makeNtfs(p, { sizeMiB: 16, clusterSize: 4096 });
    const reparse = (tag: number, data: Buffer) => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(tag, 0);
      head.writeUInt16LE(data.length, 4);
      return Buffer.concat([head, data]);
    };
    await withNtfsMount(p, false, async (dir) => {
      for (const name of ['wof.exe', 'cloud.docx', 'plain.txt']) fs.writeFileSync(path.join(dir, name), `content of ${name}`);
      // WOF_EXTERNAL_INFO (version 1, file provider 2) + FILE_PROVIDER_EXTERNAL_INFO (version 1, LZX 1).
      await setXattr(path.join(dir, 'wof.exe'), 'system.ntfs_reparse_data', reparse(0x80000017, Buffer.from([1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])));
      await setXattr(path.join(dir, 'cloud.docx'), 'system.ntfs_reparse_data', reparse(0x9000001a, Buffer.alloc(8, 1)));
    });
    try {
      await withView(p, async (v) => {
        const byName = new Map((await v.list(v.root())).map((e) => [e.name, e]));
        const wof = byName.get('wof.exe') as FileEntry;
        assert.equal(wof.kind, 'file');
        await assert.rejects(v.read(wof, 0, 10), /"wof\.exe" cannot be read: it is compressed by Windows \(WOF\/CompactOS\)/);
        const cloud = byName.get('cloud.docx') as FileEntry;
        assert.equal(cloud.kind, 'other');
        await assert.rejects(v.read(cloud, 0, 10), /reparse point \(tag 0x9000001a\)/);
        assert.equal((await v.read(byName.get('plain.txt') as FileEntry, 0, 100)).toString(), 'content of plain.txt');
      });
    } finally {
      fs.rmSync(p, { force: true });
    }
  });
});
