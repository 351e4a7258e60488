import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ImprintError } from '../errors';
import { followGrowingFile, GrowingFile } from '../io/growing-file';
import { ProgramReader } from './program-reader';
import { nativeXzArgs } from './xz-decoder';

/**
 * A decoder program on a file still downloading: a thread feeds it the bytes
 * as they arrive (workers/growing-feed-worker.ts). The "download" here is
 * another thread writing a real xz file into place piece by piece, since the
 * reading thread blocks in its reads of the program's output.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-program-growing-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const content = Buffer.concat([crypto.randomBytes(2 << 20), Buffer.alloc(4 << 20), Buffer.from('a filesystem line\n'.repeat(100_000))]);
const xz = execFileSync('xz', ['-T2', '--block-size=1MiB', '-c'], { input: content, maxBuffer: 1 << 28 });

/** Writes `source` into `file` from `from` on, 64 KiB at a time with a pause between, then completes (or fails at `failAt`). */
function downloadInThread(file: string, source: Buffer, from: number, shared: SharedArrayBuffer, failAt: number | null): Promise<unknown> {
  const code = `
    const fs = require('fs');
    const { workerData: d } = require('worker_threads');
    const { GrowingFile } = require(d.module);
    const g = new GrowingFile(d.shared);
    const fd = fs.openSync(d.file, 'r+');
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let at = d.from; at < d.source.length; at += 65536) {
      if (d.failAt !== null && at >= d.failAt) { g.fail(); process.exit(0); }
      const n = Math.min(65536, d.source.length - at);
      fs.writeSync(fd, d.source, at, n, at);
      g.advance(at + n);
      Atomics.wait(pause, 0, 0, 2);
    }
    g.complete();`;
  const worker = new Worker(code, { eval: true, workerData: { module: require.resolve('../io/growing-file'), shared, file, source, from, failAt } });
  // (Listened for at once: it may end while this thread is blocked reading the program's output.)
  return new Promise((resolve) => worker.once('exit', resolve));
}

async function readAll(reader: ProgramReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for (;;) {
      const buf = Buffer.alloc(1 << 20);
      const n = await reader.read(buf);
      parts.push(buf.subarray(0, n));
      if (n < buf.length) break;
    }
  } finally {
    await reader.close();
  }
  return Buffer.concat(parts);
}

/** A file of the download's full size (as the URL job sets it up) holding only its first `head` bytes. */
function startDownload(name: string, head: number): { file: string; growing: GrowingFile } {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([xz.subarray(0, head), Buffer.alloc(xz.length - head)]));
  const growing = new GrowingFile();
  growing.advance(head);
  followGrowingFile(file, growing.shared);
  return { file, growing };
}

test('xz decodes a file while it downloads, byte-exact, its input counted as it is fed', async () => {
  const { file, growing } = startDownload('growing.xz', 100_000);
  let input = 0;
  const reader = ProgramReader.open('xz', nativeXzArgs(), file, { onInput: (n) => (input += n) });
  assert.ok(reader, 'mkfifo exists here');
  const writer = downloadInThread(file, xz, 100_000, growing.shared, null);
  const out = await readAll(reader);
  await writer;
  assert.ok(out.equals(content), 'the decoded bytes are the content');
  assert.equal(input, xz.length, 'every compressed byte was fed');
});

test('a download that fails part way fails the decode with the download error, not the program\'s complaint', async () => {
  const { file, growing } = startDownload('failing.xz', 100_000);
  const reader = ProgramReader.open('xz', nativeXzArgs(), file) as ProgramReader;
  const writer = downloadInThread(file, xz, 100_000, growing.shared, Math.floor(xz.length / 2));
  await assert.rejects(readAll(reader), (err: unknown) => err instanceof ImprintError && err.code === 'E_DOWNLOAD_FAILED');
  await writer;
});

test('damaged data fails in the program\'s own words, not as a broken pipe to it', async () => {
  const damaged = Buffer.from(xz);
  damaged.fill(0x55, Math.floor(xz.length * 0.2), Math.floor(xz.length * 0.25));
  const file = path.join(dir, 'damaged.xz');
  fs.writeFileSync(file, damaged);
  const growing = new GrowingFile();
  growing.advance(damaged.length);
  growing.complete();
  followGrowingFile(file, growing.shared);
  const reader = ProgramReader.open('xz', nativeXzArgs(), file) as ProgramReader;
  await assert.rejects(readAll(reader), (err: Error) => !/EPIPE|pipe/i.test(err.message) && /corrupt|data|format/i.test(err.message));
});
