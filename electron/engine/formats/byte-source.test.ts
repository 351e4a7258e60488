import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openByteSource } from './byte-source';

/**
 * Random access to every image kind (issue 16): the same ranges read from a
 * raw file, a multi-block .xz (block index), a single-block .xz, a .gz, a
 * .bz2 and a .zip (from the start) give the raw file's bytes, at block edges
 * and at the end; and the sources say how they read.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-byte-source-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const SIZE = 5 * 1024 * 1024 + 777;
const raw = path.join(dir, 'content.img');
// Random and zero stretches: the temporary copy keeps zeros as holes.
const content = Buffer.concat([crypto.randomBytes(2 << 20), Buffer.alloc(2 << 20), crypto.randomBytes(SIZE - (4 << 20))]);
fs.writeFileSync(raw, content);

const RANGES: [number, number][] = [[0, 512], [(1 << 20) - 3, 10], [(2 << 20) - 100, 300], [3 << 20, 1 << 20], [SIZE - 100, 100], [SIZE - 10, 50], [SIZE + 5, 10]];

async function check(file: string, access: string, note: RegExp | null): Promise<void> {
  const src = await openByteSource(file);
  try {
    assert.equal(src.access, access, file);
    if (note) assert.match(src.note ?? '', note);
    else assert.equal(src.note, null);
    // Out of order on purpose: a sequential source must decode forward and serve earlier bytes from its copy.
    for (const [offset, length] of [...RANGES].reverse().concat(RANGES)) {
      const got = await src.read(offset, length);
      assert.ok(got.equals(content.subarray(offset, offset + length)), `${path.basename(file)} read(${offset}, ${length})`);
    }
    assert.equal(await src.fullSize(), SIZE);
  } finally {
    await src.close();
  }
}

test('raw file: direct reads', async () => {
  await check(raw, 'direct', null);
});

test('multi-block .xz: through the block index; single-block .xz: from the start, saying why', async () => {
  const multi = path.join(dir, 'multi.img.xz');
  fs.writeFileSync(multi, execFileSync('xz', ['-c', '-T2', '--block-size=1MiB', '-1', raw], { maxBuffer: 64 << 20 }));
  await check(multi, 'block-index', null);
  const single = path.join(dir, 'single.img.xz');
  fs.writeFileSync(single, execFileSync('xz', ['-c', '-T1', '-1', raw], { maxBuffer: 64 << 20 }));
  await check(single, 'sequential', /single block.*from the start/);
});

test('.gz, .bz2 and .zip: decoded from the start, saying there is no index', async () => {
  const gz = path.join(dir, 'c.img.gz');
  fs.writeFileSync(gz, execFileSync('gzip', ['-c', '-1', raw], { maxBuffer: 64 << 20 }));
  await check(gz, 'sequential', /no index: reading from the start/);
  const bz = path.join(dir, 'c.img.bz2');
  fs.writeFileSync(bz, execFileSync('bzip2', ['-c', '-1', raw], { maxBuffer: 64 << 20 }));
  await check(bz, 'sequential', /no index/);
  const zip = path.join(dir, 'c.zip');
  execFileSync('zip', ['-q', '-j', zip, raw]);
  await check(zip, 'sequential', /no index/);
});

test('a sequential source leaves no temporary copy behind (unlinked while open, where the OS allows)', async () => {
  const gz = path.join(dir, 'c.img.gz');
  const cacheDir = fs.mkdtempSync(path.join(dir, 'cache-'));
  const src = await openByteSource(gz, { cacheDir });
  await src.read(SIZE - 10, 10);
  assert.equal(fs.readdirSync(cacheDir).length, process.platform === 'win32' ? 1 : 0);
  assert.ok((await src.read(0, 512)).equals(content.subarray(0, 512)), 'still read through the open descriptor');
  await src.close();
  assert.deepEqual(fs.readdirSync(cacheDir), []);
});
