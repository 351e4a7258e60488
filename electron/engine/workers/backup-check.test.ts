import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { BackupCompression } from '../../../shared/backup-metadata';
import { firstDifferentChunk } from '../io/chunk-crc';
import { runBackupCheck, type CheckOutcome } from './backup-check-testing';
import { noise, tempDir } from '../testing/test-drives';
import { runTool } from '../testing/run-tool';

/**
 * The thread that reads a backup back while it is written, on files made by
 * the standard tools (so it is not just our encoder agreeing with itself):
 * it must give the content's per-chunk CRC-32s however the file arrives in
 * pieces, and must fail on a damaged or cut-short file.
 */

/** Runs the check worker over `file`, announcing it in `step`-byte pieces, then as final. */
const check = (file: string, compression: BackupCompression, step: number): Promise<CheckOutcome> => runBackupCheck(file, { compression, chunkSize: CHUNK, step });

const content = Buffer.concat([Buffer.from('text '.repeat(400000)), noise(3 << 20, 3), Buffer.alloc(5 << 20)]);
const CHUNK = 1 << 20;
/** zlib's CRC-32 of each chunk: what the drive reader records, computed here the plain way. */
const crcs: number[] = [];
for (let at = 0; at < content.length; at += CHUNK) crcs.push(zlib.crc32(content.subarray(at, at + CHUNK)) >>> 0);
const TOOLS: Record<Exclude<BackupCompression, 'none'>, [string, string]> = { zstd: ['zstd', 'zst'], gzip: ['gzip', 'gz'], xz: ['xz', 'xz'] };

for (const compression of ['zstd', 'gzip', 'xz', 'none'] as BackupCompression[]) {
  test(`check (${compression}): the content's chunk CRCs whatever the pieces; a damaged or cut file fails`, async () => {
    const t = tempDir(`check-${compression}`);
    try {
      const raw = path.join(t.dir, 'drive.img');
      fs.writeFileSync(raw, content);
      let file = raw;
      if (compression !== 'none') {
        const [cmd, ext] = TOOLS[compression];
        await runTool(cmd, ['-q', '-k', '-1', raw]);
        file = `${raw}.${ext}`;
      }
      for (const step of [1 << 20, 4096 * 3]) {
        const r = await check(file, compression, step);
        assert.deepEqual(r, { ok: true, contentBytes: content.length, crcs }, `pieces of ${step}`);
      }

      const bytes = fs.readFileSync(file);
      const damaged = path.join(t.dir, 'damaged');
      const copy = Buffer.from(bytes);
      // Into the compressed noise (or, raw, the noise itself): a decoder check or the hash must notice.
      const at = Math.floor(copy.length * (compression === 'none' ? 0.4 : 0.5));
      for (let i = at; i < at + 64; i++) copy[i] = (copy[i] as number) ^ 0xa5;
      fs.writeFileSync(damaged, copy);
      const bad = await check(damaged, compression, 1 << 20);
      if (compression === 'none') {
        assert.ok(bad.ok, 'a raw file decodes whatever it holds');
        assert.equal(firstDifferentChunk(crcs, bad.crcs), Math.floor(at / CHUNK), 'the damaged chunk is found');
      }
      else {
        assert.equal(bad.ok, false, 'damage is reported');
        assert.equal(!bad.ok && bad.error.code, 'E_VERIFY_MISMATCH');
      }

      if (compression !== 'none') {
        const cut = path.join(t.dir, 'cut');
        fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
        const short = await check(cut, compression, 1 << 20);
        assert.equal(short.ok, false, 'a truncated file is reported');
      }
    } finally {
      t.remove();
    }
  });
}
