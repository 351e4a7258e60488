import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProgramReader } from './program-reader';
import { nativeXzArgs } from './xz-decoder';

/** The named-pipe path the source worker uses for the xz and bzip2 programs, on files those tools made. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-program-reader-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const content = Buffer.concat([crypto.randomBytes(3 << 20), Buffer.alloc(5 << 20), Buffer.from('a filesystem line\n'.repeat(200_000))]);

function leftoverPipes(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('imprint-decoder-'));
}

async function readAll(reader: ProgramReader, slot: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for (;;) {
      const buf = Buffer.alloc(slot);
      const n = await reader.read(buf);
      parts.push(buf.subarray(0, n));
      if (n < slot) break;
    }
  } finally {
    await reader.close();
  }
  return Buffer.concat(parts);
}

test('xz output arrives whole in fixed-size slots, with the input read counted, and no pipe left behind', async () => {
  const before = leftoverPipes();
  const file = path.join(dir, 'c.xz');
  fs.writeFileSync(file, execFileSync('xz', ['-T2', '--block-size=2MiB', '-c'], { input: content, maxBuffer: 1 << 28 }));
  let input = 0;
  const reader = ProgramReader.open('xz', nativeXzArgs(), file, { onInput: (n) => (input += n) });
  assert.ok(reader, 'mkfifo exists here');
  const out = await readAll(reader, 4 << 20);
  assert.ok(out.equals(content));
  assert.equal(input, fs.statSync(file).size, 'progress saw every compressed byte read');
  assert.deepEqual(leftoverPipes(), before);
});

test('a cut-short bzip2 file ends in the program\'s words after what it decoded; a program that cannot start is an error too', async () => {
  const file = path.join(dir, 'cut.bz2');
  const whole = execFileSync('bzip2', ['-c'], { input: content, maxBuffer: 1 << 28 });
  fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
  const reader = ProgramReader.open('bzip2', ['-d', '-c'], file) as ProgramReader;
  await assert.rejects(readAll(reader, 1 << 20), (err: Error) => /compressed|end|unexpected/i.test(err.message) && !err.message.startsWith('bzip2:'));
  const missing = ProgramReader.open(path.join(dir, 'no-such-decoder'), [], file) as ProgramReader;
  await assert.rejects(readAll(missing, 1 << 20), /ENOENT/);
});

test('closing early stops the program', async () => {
  const file = path.join(dir, 'zeros.xz');
  // 1 GiB of zeros as 16 concatenated streams of 64 MiB (xz decodes them as one file): compressing 1 GiB took seconds.
  const stream = execFileSync('bash', ['-c', 'head -c 64M /dev/zero | xz -T1 -1 -c'], { maxBuffer: 1 << 24 });
  fs.writeFileSync(file, Buffer.concat(Array.from({ length: 16 }, () => stream)));
  const reader = ProgramReader.open('xz', nativeXzArgs(), file) as ProgramReader;
  const buf = Buffer.alloc(1 << 20);
  assert.equal(await reader.read(buf), buf.length);
  const pids = execFileSync('pgrep', ['-P', String(process.pid), 'xz'], { encoding: 'utf8' }).trim();
  assert.ok(pids, 'the decoder runs');
  await reader.close();
  assert.throws(() => process.kill(Number(pids.split('\n')[0]), 0), 'the decoder is gone once close() returns');
});
