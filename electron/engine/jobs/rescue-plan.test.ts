import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';
import { ImprintError } from '../errors';
import { withLoopDevice } from '../testing/loop-device';
import { rescueToFile } from './rescue-job';
import { formatMapfile, RescueMap } from '../formats/rescue-map';

/**
 * What a rescue refuses before reading anything, and the plain case of a
 * healthy drive. Each refusal must leave the files it was given as they were.
 */
const SIZE = 4 << 20;
let dir = '';
let source = '';

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-rescue-plan-'));
  source = path.join(dir, 'source.img');
  fs.writeFileSync(source, crypto.randomBytes(SIZE));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const HEADING = { commandLine: 'test', startTime: new Date(), version: 'test' };

function refusedWith(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ImprintError, `expected an ImprintError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

function hash(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('rescue refuses, touching nothing', () => {
  it('a source that does not exist', async () => {
    await assert.rejects(rescueToFile(path.join(dir, 'nope'), path.join(dir, 'a.img')), refusedWith('E_SOURCE_NOT_FOUND'));
    assert.equal(fs.existsSync(path.join(dir, 'a.img')), false);
  });

  it('a folder as source', async () => {
    await assert.rejects(rescueToFile(dir, path.join(dir, 'a.img')), refusedWith('E_SOURCE_IS_DIRECTORY'));
  });

  it('an empty source', async () => {
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    await assert.rejects(rescueToFile(empty, path.join(dir, 'a.img')), refusedWith('E_SOURCE_EMPTY'));
  });

  it('an existing output without a mapfile saying what it holds', async () => {
    const out = path.join(dir, 'precious.img');
    fs.writeFileSync(out, 'somebody else\'s data');
    await assert.rejects(rescueToFile(source, out), refusedWith('E_OUTPUT_EXISTS'));
    assert.equal(fs.readFileSync(out, 'utf8'), 'somebody else\'s data');
    assert.equal(fs.existsSync(`${out}.map`), false);
  });

  it('an output that is not a regular file', async () => {
    await assert.rejects(rescueToFile(source, '/dev/null', { mapfile: path.join(dir, 'null.map') }), refusedWith('E_TARGET_NOT_WRITABLE_KIND'));
    await assert.rejects(rescueToFile(source, dir), refusedWith('E_TARGET_NOT_WRITABLE_KIND'));
  });

  it('the source as its own output', async () => {
    const before = hash(source);
    await assert.rejects(rescueToFile(source, source, { mapfile: path.join(dir, 'self.map') }), refusedWith('E_TARGET_HOLDS_SOURCE'));
    assert.equal(hash(source), before);
  });

  it('a mapfile of a larger device', async () => {
    const map = path.join(dir, 'big.map');
    fs.writeFileSync(map, formatMapfile(new RescueMap(SIZE * 2), HEADING));
    await assert.rejects(rescueToFile(source, path.join(dir, 'b.img'), { mapfile: map }), refusedWith('E_BAD_ARGUMENTS'));
    assert.equal(fs.existsSync(path.join(dir, 'b.img')), false);
  });

  it('a mapfile that says data was rescued into an output that is missing', async () => {
    const map = path.join(dir, 'orphan.map');
    const m = new RescueMap(SIZE);
    m.set(0, 1 << 20, '+');
    fs.writeFileSync(map, formatMapfile(m, HEADING));
    await assert.rejects(rescueToFile(source, path.join(dir, 'c.img'), { mapfile: map }), refusedWith('E_BAD_ARGUMENTS'));
  });

  it('a file that is not a mapfile', async () => {
    const map = path.join(dir, 'junk.map');
    fs.writeFileSync(map, 'hello world\n');
    await assert.rejects(rescueToFile(source, path.join(dir, 'd.img'), { mapfile: map }), refusedWith('E_BAD_ARGUMENTS'));
    assert.equal(fs.readFileSync(map, 'utf8'), 'hello world\n');
  });
});

describe('rescue of a healthy drive', () => {
  it('copies it whole, exits ok, and a second run reads nothing', async () => {
    await withLoopDevice(SIZE, async ({ device }) => {
      const out = path.join(dir, 'healthy.img');
      const first = await rescueToFile(device, out, { traceReads: true });
      assert.equal(first.ok, true);
      assert.equal(first.error, undefined);
      assert.equal(first.rescuedBytes, SIZE);
      assert.equal(first.lostBytes, 0);
      // Large reads only: 1 MiB each, nothing read twice.
      assert.deepEqual(first.readTrace?.map(([p, len]) => [p, len]), [0, 1, 2, 3].map((i) => [i << 20, 1 << 20]));
      assert.equal(hash(out), hash(source));
      const second = await rescueToFile(device, out, { traceReads: true });
      assert.equal(second.ok, true);
      assert.deepEqual(second.readTrace, []);
      assert.equal(hash(out), hash(source));
    }, { file: source });
  });
});
