import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GrowingFile } from './growing-file';
import { growingFileStream } from './growing-read-stream';

/**
 * A file written ahead of what its GrowingFile says has arrived (the
 * download sets the final size up front): the stream must never hand out a
 * byte past `available` while the file grows, must end exactly at the end
 * once it is complete, and must fail when the download fails.
 */
function withFile(data: Buffer, fn: (file: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-growing-stream-'));
  const file = path.join(dir, 'image');
  fs.writeFileSync(file, data);
  return fn(file).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

test('reads only what has arrived, waits for the rest, and ends at the end once complete', async () => {
  const data = crypto.randomBytes(3 << 20);
  await withFile(data, async (file) => {
    const growing = new GrowingFile();
    const parts: Buffer[] = [];
    let received = 0;
    const stream = growingFileStream(file, growing, { start: 1000, highWaterMark: 256 << 10 });
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      assert.ok(growing.state === 'complete' || 1000 + received <= growing.available, `read to ${1000 + received} with ${growing.available} arrived`);
      parts.push(chunk);
    });
    const ended = new Promise<void>((resolve, reject) => stream.on('end', resolve).on('error', reject));
    for (let at = 100_000; at < data.length; at += 700_000) {
      growing.advance(at);
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(received > 0 && 1000 + received <= data.length - 1, 'part was read before the end arrived');
    growing.complete();
    await ended;
    assert.ok(Buffer.concat(parts).equals(data.subarray(1000)), 'the bytes are the file from `start`');
  });
});

test('an inclusive `end` stops there; a failed download ends the stream with E_DOWNLOAD_FAILED', async () => {
  const data = crypto.randomBytes(1 << 20);
  await withFile(data, async (file) => {
    const growing = new GrowingFile();
    growing.advance(600_000);
    const parts: Buffer[] = [];
    for await (const c of growingFileStream(file, growing, { start: 10, end: 499_999 })) parts.push(c as Buffer);
    assert.ok(Buffer.concat(parts).equals(data.subarray(10, 500_000)));

    const failing = growingFileStream(file, growing, { start: 0 });
    const read = (async () => {
      let n = 0;
      for await (const c of failing) n += (c as Buffer).length;
      return n;
    })();
    setTimeout(() => growing.fail(), 50);
    await assert.rejects(read, (err: Error & { code?: string }) => err.code === 'E_DOWNLOAD_FAILED');
  });
});
