import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { noise } from '../testing/test-drives';
import { ImprintError } from '../errors';
import { ReadBackOutput } from './read-back-output';

/**
 * The backup file that reads itself back (read-back-output.ts): it holds
 * exactly what was appended, reads it back as it goes, and a file changed or
 * cut short on disk before its read-back fails it, naming the first byte
 * that differs. On /var/tmp, not tmpfs: the file is written and read O_DIRECT.
 */

const MiB = 1 << 20;

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync('/var/tmp/imprint-read-back-');
    try {
      await fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Odd-sized pieces, so block boundaries fall inside pieces; one lent from shared memory, as a frame pool's are. */
function pieces(): Buffer[] {
  const shared = Buffer.from(new SharedArrayBuffer(3 * MiB + 17));
  noise(shared.length, 3).copy(shared);
  return [noise(700_001, 1), Buffer.alloc(1_500_000), noise(5_333_333, 2), shared, Buffer.from('tail '.repeat(1000)), noise(9 * MiB, 4)];
}

async function caught(p: Promise<unknown>): Promise<ImprintError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ImprintError, String(err));
    return err;
  }
  assert.fail('expected the read-back to fail');
}

test('the file holds exactly what was appended, read back as it goes and at the end', withDir(async (dir) => {
  const file = path.join(dir, 'backup.zst');
  const out = new ReadBackOutput(file);
  const all = pieces();
  for (const p of all) {
    await out.room(p.length);
    out.append(p);
  }
  const expected = Buffer.concat(all);
  // Earlier blocks are read back while later ones are appended: waiting for room for every block frees them all.
  await out.room(4 * 4 * MiB);
  assert.ok(out.checked > 0 && out.checked <= out.durable, `${out.checked} of ${out.durable} read back before the end`);
  assert.equal(await out.finish(), expected.length);
  await out.checkRest();
  assert.equal(out.checked, expected.length);
  assert.ok(fs.readFileSync(file).equals(expected));
}));

test('a byte changed on disk before its read-back fails it at that byte; so does a file cut short', withDir(async (dir) => {
  const expected = Buffer.concat(pieces());
  for (const at of [5 * MiB + 12345, expected.length - 1]) {
    const file = path.join(dir, `changed-${at}.zst`);
    const out = new ReadBackOutput(file);
    // Held: nothing is read back before checkRest(), so the change lands first.
    out.hold();
    out.append(expected);
    await out.finish();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([(expected[at] as number) ^ 0x10]), 0, 1, at);
    fs.closeSync(fd);
    const err = await caught(out.checkRest());
    assert.equal(err.code, 'E_VERIFY_MISMATCH');
    assert.equal(err.offset, at);
    assert.match(err.message, new RegExp(`from byte ${at} on`));
  }

  const file = path.join(dir, 'cut.zst');
  const out = new ReadBackOutput(file);
  out.hold();
  out.append(expected);
  await out.finish();
  fs.truncateSync(file, 6 * MiB + 5);
  const err = await caught(out.checkRest());
  assert.equal(err.code, 'E_VERIFY_SHORT');
  assert.equal(err.offset, 6 * MiB + 5);
}));
