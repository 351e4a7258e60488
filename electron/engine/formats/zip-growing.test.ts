import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GrowingFile } from '../io/growing-file';
import { pseudoRandom } from '../testing/image-fixtures';
import { findZipImage } from './zip-entry';
import { directoryStart, findZipImageGrowing, ZIP_EOCD_SEARCH, type ZipTail } from './zip-growing';

/**
 * A zip read while it downloads: its central directory found from its tail
 * (plain and zip64 archives made by Info-ZIP's zip, the offsets checked
 * against zipinfo's), and its image entry found with only the archive's
 * start arrived, waiting for the image's local header.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-zip-growing-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A zip of a 300 KB README (first) and a 2 MiB image, made by zip with `flags`. */
function makeZip(name: string, flags: string[]): string {
  const stage = fs.mkdtempSync(path.join(dir, 'stage-'));
  fs.writeFileSync(path.join(stage, 'README.txt'), 'Write os.img to a card.\n'.repeat(12_500));
  fs.writeFileSync(path.join(stage, 'os.img'), pseudoRandom(2 << 20, name));
  const out = path.join(dir, name);
  execFileSync('zip', ['-q', ...flags, out, 'README.txt', 'os.img'], { cwd: stage });
  return out;
}

/** The central directory's offset as zipinfo reports it. */
function zipinfoDirectoryOffset(file: string): number {
  const text = execFileSync('zipinfo', ['-v', file], { encoding: 'utf8' });
  const m = /offset in bytes from the beginning of the zipfile\s+is (\d+)/.exec(text);
  assert.ok(m?.[1], 'zipinfo names the offset');
  return Number(m[1]);
}

function tailOf(file: string, bytes: number): ZipTail {
  const all = fs.readFileSync(file);
  const offset = Math.max(0, all.length - bytes);
  return { offset, bytes: all.subarray(offset) };
}

for (const [name, flags] of [['plain.zip', []], ['zip64.zip', ['-fz']]] as const) {
  test(`${name}: the directory's start, from a tail that holds it or asking for more of the tail until it does`, () => {
    const file = makeZip(name, [...flags]);
    const size = fs.statSync(file).size;
    const expected = zipinfoDirectoryOffset(file);
    assert.equal(directoryStart(tailOf(file, ZIP_EOCD_SEARCH), size), expected);
    // A tail of the end record alone (and zip64's locator): each answer asks for more, until it is the directory.
    let tail = tailOf(file, name === 'plain.zip' ? 22 : 42);
    for (let round = 0; round < 3; round++) {
      const start = directoryStart(tail, size);
      assert.ok(start !== null);
      if (start >= tail.offset) break;
      tail = tailOf(file, size - start);
    }
    assert.equal(directoryStart(tail, size), expected);
    assert.equal(directoryStart(tailOf(file, 10), size), null, 'no end record: null');
  });
}

test('the image entry is found once its local header has arrived (the README before it has), and is the one a whole-file read finds', async () => {
  const file = makeZip('stored.zip', ['-0']);
  const size = fs.statSync(file).size;
  const growing = new GrowingFile();
  growing.advance(64 << 10);
  let found = false;
  const finding = findZipImageGrowing(file, growing, tailOf(file, ZIP_EOCD_SEARCH), size).then((e) => {
    found = true;
    return e;
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(found, false, 'waits while the README is still arriving');
  growing.advance(400 << 10);
  const entry = await finding;
  assert.ok(growing.state === 'growing', 'found before the archive was complete');
  assert.deepEqual(entry, await findZipImage(file));
  assert.equal(entry.name, 'os.img');
  assert.equal(entry.method, 0);
});
