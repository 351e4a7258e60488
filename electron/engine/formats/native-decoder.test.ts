import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeWithProgram, findProgram } from './native-decoder';
import { liblzmaVersion, nativeXz, nativeXzArgs } from './xz-decoder';

/**
 * The decoder programs run through pipes: real xz and lbzip2/bzip2 on real
 * files made by those tools.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-native-decoder-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 24 MiB: text-like and random parts, so several xz blocks and real work for the decoder. */
function sample(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 12; i++) parts.push(i % 3 === 0 ? crypto.randomBytes(2 << 20) : Buffer.from(`line ${i} of a file system\n`.repeat(80_000)).subarray(0, 2 << 20));
  return Buffer.concat(parts);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

function liveChildrenOf(pid: number): number {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).trim();
  return out ? out.split('\n').length : 0;
}

test('the xz program is used when its liblzma decodes on threads (5.4 and later)', () => {
  const xz = findProgram(['xz']);
  assert.ok(xz, 'xz is installed by .ci/apt-packages');
  const version = liblzmaVersion(xz);
  assert.ok(version, 'xz --version names its liblzma');
  const threaded = version[0] > 5 || (version[0] === 5 && version[1] >= 4);
  const builtin = process.env.IMPRINT_XZ_DECODER === 'builtin';
  assert.equal(nativeXz(builtin ? 'builtin' : 'auto') !== null, threaded && !builtin);
  assert.equal(nativeXz('builtin'), null);
  assert.ok(nativeXzArgs().some((a) => /^--threads=[1-4]$/.test(a)));
});

test('a multi-block .xz decodes through the program to the exact content, with input counted', async () => {
  const content = sample();
  const file = path.join(dir, 'sample.xz');
  fs.writeFileSync(file, execFileSync('xz', ['-T2', '--block-size=4MiB', '-c'], { input: content, maxBuffer: 1 << 28 }));
  let input = 0;
  const out = await collect(decodeWithProgram('xz', nativeXzArgs(), file, { onInput: (n) => (input += n) }));
  assert.ok(out.equals(content), 'decoded bytes equal the original');
  assert.equal(input, fs.statSync(file).size);
});

test('a truncated or damaged file ends in the program\'s own words, after the data it could decode', async () => {
  // 4 MiB, several bzip2 blocks: compressing the whole sample took bzip2 12-14 s and xz 7 s here.
  const content = sample().subarray(0, 4 << 20);
  const good = execFileSync('bzip2', ['-c'], { input: content, maxBuffer: 1 << 28 });
  const bzip2 = findProgram(['lbzip2', 'pbzip2', 'bzip2']) as string;
  const truncated = path.join(dir, 'cut.bz2');
  fs.writeFileSync(truncated, good.subarray(0, Math.floor(good.length * 0.7)));
  await assert.rejects(collect(decodeWithProgram(bzip2, ['-d', '-c'], truncated)), (err: Error) => {
    assert.ok(err.message.length > 0 && !err.message.startsWith(path.basename(bzip2) + ':'), err.message);
    return true;
  });
  const xzFile = path.join(dir, 'damaged.xz');
  const xz = execFileSync('xz', ['-c'], { input: content, maxBuffer: 1 << 28 });
  for (let i = 1000; i < 1064; i++) xz[i] = (xz[i] as number) ^ 0x5a;
  fs.writeFileSync(xzFile, xz);
  await assert.rejects(collect(decodeWithProgram('xz', nativeXzArgs(), xzFile)), /Compressed data is corrupt/);
});

test('stopping early (a cancelled job) ends the program', async () => {
  const file = path.join(dir, 'zeros.xz');
  // 2 GiB of zeros, far longer to decode than this test waits: one stream of 64 MiB, 32 times (xz decodes
  // concatenated streams as one file; compressing 2 GiB took 12 s).
  const stream = execFileSync('bash', ['-c', 'head -c 64M /dev/zero | xz -T1 -1 -c'], { maxBuffer: 1 << 24 });
  fs.writeFileSync(file, Buffer.concat(Array.from({ length: 32 }, () => stream)));
  const before = liveChildrenOf(process.pid);
  for await (const chunk of decodeWithProgram('xz', nativeXzArgs(), file)) {
    assert.ok(chunk.length > 0);
    break;
  }
  // The kill is sent at once; give the child a moment to be reaped.
  for (let i = 0; i < 50 && liveChildrenOf(process.pid) > before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(liveChildrenOf(process.pid), before, 'the decoder program still runs');
});
