import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { withExfatMount } from '../../engine/disks/exfat/testing/exfat-images';
import { makeNtfs, withNtfsMount } from '../../engine/disks/ntfs/ntfs-test-volume';
import { attachLoop, detachLoop } from '../../engine/testing/loop-device';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';
import { rows } from './browse-checks';
import { hostTree, MIB, sha256, writeTree, type HostEntry } from './browse-fixtures';

/**
 * `imprint ls` / `imprint extract` on exFAT (mkfs.exfat, filled through
 * exfat-fuse) and NTFS (mkntfs, filled through ntfs-3g, with a symlink)
 * volumes without a partition table (partition 1). The reference is the
 * same volume mounted read-only by its FUSE driver, entry by entry.
 */

const t = tempDir('browse-fuse');
const exfat = path.join(t.dir, 'exfat.img');
const ntfs = path.join(t.dir, 'ntfs.img');
let exfatRef: Map<string, HostEntry>;
let ntfsRef: Map<string, HostEntry>;
const exfatHashes = new Map<string, string>();
const ntfsHashes = new Map<string, string>();

const hashesOf = (root: string, tree: Map<string, HostEntry>, into: Map<string, string>): void => {
  for (const [p, e] of tree) if (e.kind === 'file') into.set(p, sha256(path.join(root, p)));
};

before(async () => {
  const plain = path.join(t.dir, 'plain');
  const linked = path.join(t.dir, 'linked');
  writeTree(plain, { symlinks: false });
  writeTree(linked, { symlinks: true });
  fs.writeFileSync(exfat, '');
  fs.truncateSync(exfat, 32 * MIB);
  await runTool('mkfs.exfat', ['-L', 'EXLABEL', exfat], SLOW_TOOL_MS);
  await withExfatMount(exfat, false, (mnt) => {
    fs.cpSync(plain, mnt, { recursive: true, preserveTimestamps: true });
    // A file large enough to be copied from its extents out of a backup (jobs/extract-copy.ts), grown after another
    // file was written so that exfat-fuse gives it a FAT chain in two runs.
    fs.writeFileSync(path.join(mnt, 'large.bin'), crypto.randomBytes(3 * MIB));
    fs.writeFileSync(path.join(mnt, 'between.bin'), crypto.randomBytes(MIB));
    fs.appendFileSync(path.join(mnt, 'large.bin'), crypto.randomBytes(3 * MIB + 77));
  });
  exfatRef = await withExfatMount(exfat, true, (mnt) => {
    const tree = hostTree(mnt);
    hashesOf(mnt, tree, exfatHashes);
    return tree;
  });
  await makeNtfs(ntfs, { sizeMiB: 32, clusterSize: 4096, label: 'NTLABEL' });
  await withNtfsMount(ntfs, false, async (mnt) => fs.cpSync(linked, mnt, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true }));
  ntfsRef = await withNtfsMount(ntfs, true, async (mnt) => {
    const tree = hostTree(mnt);
    hashesOf(mnt, tree, ntfsHashes);
    return tree;
  });
});

after(() => t.remove());

async function compare(image: string, ref: Map<string, HostEntry>, hashes: Map<string, string>, fsName: string, label: string): Promise<void> {
  const parts = await runCli(['ls', image, '--json']);
  assert.equal(parts.code, 0, parts.stderr);
  const p = rows(parts.stdout).filter((x) => x.type === 'partition');
  assert.deepEqual(p.map((x) => [x.number, x.filesystem, x.label]), [[1, fsName, label]]);
  const r = await runCli(['ls', image, '1:/', '-R', '--long', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const listed = new Map(rows(r.stdout).filter((x) => x.type === 'entry').map((x) => [x.path!, x]));
  const reference = new Map([...ref].filter(([k]) => !k.startsWith('/System Volume Information') && !k.startsWith('/$')));
  assert.deepEqual([...listed.keys()].sort(), [...reference.keys()].sort());
  for (const [k, h] of reference) {
    const e = listed.get(k)!;
    assert.equal(e.kind, h.kind, k);
    if (h.kind === 'file') assert.equal(e.size, h.size, k);
    if (h.kind === 'symlink') assert.equal(e.target, h.target, k);
    if (h.kind === 'file') assert.ok(Math.abs(e.mtimeMs! / 1000 - h.mtimeS) < 2, `${k}: mtime`);
  }
  const dest = fs.mkdtempSync(path.join(t.dir, `out-${fsName}-`));
  const x = await runCli(['extract', image, '1:/', dest, '--json']);
  assert.equal(x.code, 0, x.stderr + x.stdout.slice(-1000));
  const got = hostTree(dest);
  assert.deepEqual([...got.keys()].sort(), [...reference.keys()].sort());
  for (const [k, h] of hashes) {
    assert.equal(sha256(path.join(dest, k)), h, `${k}: content`);
    assert.ok(Math.abs(got.get(k)!.mtimeS - reference.get(k)!.mtimeS) <= 1, `${k}: mtime`);
  }
}

test('exFAT (whole-volume image): listing and extraction match exfat-fuse', async () => {
  await compare(exfat, exfatRef, exfatHashes, 'exfat', 'EXLABEL');
});

test('exFAT through its Imprint backup (seekable zstd): the same listing and extraction, the large file from its extents', async () => {
  const dev = await attachLoop(exfat, { readOnly: true });
  const backup = path.join(t.dir, 'exfat.img.zst');
  try {
    const b = await runCli(['backup', dev, backup, '--json']);
    assert.equal(b.code, 0, b.stderr);
  } finally {
    await detachLoop(dev);
  }
  assert.ok(exfatRef.get('/large.bin')!.size > 4 * MIB);
  await compare(backup, exfatRef, exfatHashes, 'exfat', 'EXLABEL');
});

test('NTFS (whole-volume image, with a symlink): listing and extraction match ntfs-3g', async () => {
  await compare(ntfs, ntfsRef, ntfsHashes, 'ntfs', 'NTLABEL');
});
