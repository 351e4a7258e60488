import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli, REPO_ROOT } from '../testing/run-cli';
import { rows } from './browse-checks';
import { makeExt4, makeFat, MIB } from './browse-fixtures';

/**
 * Limits issue #16's tests name (browse-scale.integration.test.ts has the
 * folder of 10,000 files): a file of more than
 * 4 GiB (sparse in an ext4 image; extracted with the right size and hash
 * while the CLI's memory stays small), hard links (extracted as separate
 * copies, said so here), and a name the destination cannot hold (reported
 * and skipped, never shortened or renamed).
 */

const t = tempDir('browse-limits');
after(() => t.remove());

const BIN = path.join(REPO_ROOT, 'bin', 'imprint.js');

test('a 4 GiB + 4 KiB sparse file in ext4: listed with its size, extracted with the same bytes (SHA-256), in little memory, still sparse', async () => {
  const tree = path.join(t.dir, 'huge');
  fs.mkdirSync(tree);
  const big = path.join(tree, 'huge.bin');
  const size = 4 * 1024 * MIB + 4096;
  // Data at the start, on both sides of 4 GiB (where 32-bit sizes and offsets wrap) and at the end; holes between.
  const markers = [0, 4 * 1024 * MIB - 3000, size - 100].map((at) => ({ at, bytes: Buffer.from(`marker at ${at} `.repeat(4)) }));
  const fd = fs.openSync(big, 'w');
  for (const m of markers) fs.writeSync(fd, m.bytes, 0, m.bytes.length, m.at);
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);
  const ext = path.join(t.dir, 'huge-ext4.img');
  await makeExt4(ext, 4 * 1024 * MIB + 512 * MIB, tree);
  assert.ok(fs.statSync(ext).blocks * 512 < 512 * MIB, 'the image stays sparse: the file\'s holes were kept');
  const ls = await runCli(['ls', ext, '1:/', '--json']);
  assert.equal(rows(ls.stdout).find((r) => r.path === '/huge.bin')?.size, size);
  const dest = path.join(t.dir, 'out-huge');
  // GNU time's %M: the CLI's peak resident memory in KiB.
  const run = await runTool('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, BIN, 'extract', ext, '1:/huge.bin', dest], SLOW_TOOL_MS);
  const rss = Number(/maxrss=(\d+)/.exec(run.stderr)?.[1]);
  assert.ok(rss > 0 && rss < 400 * 1024, `peak memory ${rss} KiB: the file is not held in memory`);
  const out = path.join(dest, 'huge.bin');
  assert.equal(fs.statSync(out).size, size);
  // Runs of zeros are not written: the copy takes about what the original takes on disk.
  assert.ok(fs.statSync(out).blocks * 512 < 64 * MIB, `the copy is sparse (${fs.statSync(out).blocks * 512} bytes on disk)`);
  // The expected hash from the layout written above (no read of the source's 4 GiB of holes); the copy's by reading it.
  const want = crypto.createHash('sha256');
  let at = 0;
  const zeros = Buffer.alloc(4 * MIB);
  for (const m of [...markers, { at: size, bytes: Buffer.alloc(0) }]) {
    for (; at < m.at; at += Math.min(zeros.length, m.at - at)) want.update(zeros.subarray(0, Math.min(zeros.length, m.at - at)));
    want.update(m.bytes);
    at += m.bytes.length;
  }
  // The copy's hash from its data extents (filefrag) and zeros for its holes: reading 4 GiB of holes costs 18 s here.
  const frag = (await runTool('filefrag', ['-s', '-e', '-b1024', out], SLOW_TOOL_MS)).stdout;
  const extents = [...frag.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):/gm)].map((m) => ({ from: Number(m[1]) * 1024, to: Math.min(size, (Number(m[2]) + 1) * 1024) }));
  assert.ok(extents.length > 0, frag);
  const got = crypto.createHash('sha256');
  const cfd = fs.openSync(out, 'r');
  let pos = 0;
  for (const e of [...extents, { from: size, to: size }]) {
    for (; pos < e.from; pos += Math.min(zeros.length, e.from - pos)) got.update(zeros.subarray(0, Math.min(zeros.length, e.from - pos)));
    const piece = Buffer.alloc(e.to - e.from);
    assert.equal(fs.readSync(cfd, piece, 0, piece.length, e.from), piece.length);
    got.update(piece);
    pos = e.to;
  }
  fs.closeSync(cfd);
  assert.equal(got.digest('hex'), want.digest('hex'));
  fs.rmSync(dest, { recursive: true });
});

test('hard links are extracted as separate copies with the same content', async () => {
  const tree = path.join(t.dir, 'links');
  fs.mkdirSync(path.join(tree, 'a'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'a', 'original.txt'), 'linked content\n');
  fs.linkSync(path.join(tree, 'a', 'original.txt'), path.join(tree, 'second-name.txt'));
  const ext = path.join(t.dir, 'links-ext4.img');
  await makeExt4(ext, 8 * MIB, tree);
  assert.match((await runTool('debugfs', ['-R', 'stat /second-name.txt', ext], SLOW_TOOL_MS)).stdout, /Links: 2/, 'mkfs.ext4 -d kept the hard link');
  const dest = path.join(t.dir, 'out-links');
  const x = await runCli(['extract', ext, '1:/', dest]);
  assert.equal(x.code, 0, x.stderr);
  const a = fs.statSync(path.join(dest, 'a', 'original.txt'));
  const b = fs.statSync(path.join(dest, 'second-name.txt'));
  assert.notEqual(a.ino, b.ino, 'two files, not one linked twice');
  assert.deepEqual([a.nlink, b.nlink], [1, 1]);
  assert.equal(fs.readFileSync(path.join(dest, 'second-name.txt'), 'utf8'), 'linked content\n');
});

test('a FAT long name longer than this system allows (300 bytes of UTF-8) is reported, not shortened; the rest extracts', async () => {
  const tree = path.join(t.dir, 'fat-tree');
  fs.mkdirSync(tree);
  const ascii = 'Q'.repeat(100);
  fs.writeFileSync(path.join(tree, ascii), 'too long a name here\n');
  fs.writeFileSync(path.join(tree, 'fine.txt'), 'fine\n');
  const fat = path.join(t.dir, 'names-fat.img');
  await makeFat(fat, 34 * MIB, tree);
  // Each "Q" of the long-name (LFN, attribute 0x0F) entries becomes U+8A9E: 100 characters, 300 bytes in UTF-8.
  const data = fs.readFileSync(fat);
  let changed = 0;
  for (let e = 0; e + 32 <= data.length; e += 32) {
    if (data[e + 11] !== 0x0f) continue;
    for (const [from, len] of [[1, 10], [14, 12], [28, 4]] as const) {
      for (let c = e + from; c < e + from + len; c += 2) {
        if (data[c] === 0x51 && data[c + 1] === 0) {
          data.writeUInt16LE(0x8a9e, c);
          changed++;
        }
      }
    }
  }
  assert.equal(changed, 100);
  fs.writeFileSync(fat, data);
  const long = '語'.repeat(100);
  const ls = await runCli(['ls', fat, '1:/', '--json']);
  assert.ok(rows(ls.stdout).some((r) => r.path === `/${long}`), 'listed with its full name');
  const dest = path.join(t.dir, 'out-names');
  const x = await runCli(['extract', fat, '1:/', dest, '--json']);
  assert.equal(x.code, 1, x.stderr);
  const problems = rows(x.stdout).filter((r) => r.type === 'problem') as unknown as { path: string; message: string }[];
  assert.deepEqual(problems.map((p) => p.path), [`/${long}`]);
  assert.match(problems[0]!.message, /skipped: the name is longer than 255 bytes/);
  assert.deepEqual(fs.readdirSync(dest), ['fine.txt'], 'nothing written under another name');
});
