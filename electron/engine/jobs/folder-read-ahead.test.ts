import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../errors';
import { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { openFolder, piecePath } from '../formats/backup-folder/folder-layout';
import { READERS_DIR } from '../formats/backup-folder/folder-readers';
import { generationContent } from '../formats/backup-folder/generation-content';
import type { GenerationIndex } from '../formats/backup-folder/generation-index';
import { ReadPace } from '../formats/backup-folder/read-pace';
import { sampleDrive, storeSample } from '../testing/backup-folder-samples';
import { verifyFolder } from './folder-verify';

/**
 * verify and a generation's content (export, an encrypted folder's restore)
 * read the pieces ahead, several at once, once they come from the disk
 * (formats/backup-folder/read-pace.ts). The tests' folders are in the page
 * cache, so they ask for it: the same pieces must come back, and the same
 * problems be found and named, as reading one after the other.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-read-ahead-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

async function content(folder: string, index: GenerationIndex, pace: ReadPace, keys: FolderKeys | null = null): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of generationContent(folder, index, undefined, keys, pace)) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

/** Breaks two pieces of `index` in `folder`: the 6th is left out, the 20th has a byte of its frame flipped. Returns them. */
function breakTwo(folder: string, index: GenerationIndex): { missing: string; damaged: string } {
  const missing = (index.pieces.at(5) as [number, number, string])[2];
  const damaged = (index.pieces.at(20) as [number, number, string])[2];
  fs.rmSync(piecePath(folder, missing));
  const file = piecePath(folder, damaged);
  const bytes = fs.readFileSync(file);
  bytes.writeUInt8((bytes.readUInt8(bytes.length - 20) ^ 0x10) & 0xff, bytes.length - 20);
  fs.writeFileSync(file, bytes);
  return { missing, damaged };
}

test('a generation read ahead is the image read piece by piece', async () => {
  const folder = path.join(root, 'same');
  const index = storeSample(folder, sampleDrive());
  const ahead = await content(folder, index, new ReadPace(true));
  assert.ok(ahead.equals(await content(folder, index, new ReadPace())));
  assert.ok(index.pieces.length > 16, 'more pieces than are read at once');
});

test('read ahead, a missing piece stops the content naming the drive bytes it held', async () => {
  const folder = path.join(root, 'content-broken');
  const index = storeSample(folder, sampleDrive());
  const { missing } = breakTwo(folder, index);
  const [offset] = index.pieces.at(5) as [number, number, string];
  await assert.rejects(content(folder, index, new ReadPace(true)), (err) => err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE' && err.message.includes(`piece ${missing} is missing`) && err.message.includes(`drive bytes ${offset} to`));
});

test("an encrypted folder's generation read ahead is its image", async () => {
  const folder = path.join(root, 'sealed');
  const created = FolderKeys.create('read ahead');
  const index = storeSample(folder, sampleDrive(), undefined, { secret: { record: created.record, keys: created.keys } });
  assert.ok(openFolder(folder).encryption, 'the folder is encrypted');
  assert.ok((await content(folder, index, new ReadPace(true), created.keys)).equals(await content(folder, index, new ReadPace(), created.keys)));
});

test('verify reading ahead finds and names the same problems, in the order the generation lists them', async () => {
  const folder = path.join(root, 'verify');
  const index = storeSample(folder, sampleDrive());
  assert.equal((await verifyFolder(folder, { readAhead: true })).ok, true);
  const { missing, damaged } = breakTwo(folder, index);
  const one = await verifyFolder(folder);
  const ahead = await verifyFolder(folder, { readAhead: true });
  assert.deepEqual(ahead, one);
  assert.equal(ahead.ok, false);
  assert.deepEqual(ahead.problems.map((p) => [p.hash, p.problem]), [[missing, 'missing'], [damaged, 'damaged']]);
  assert.deepEqual(ahead.unrestorable.map((g) => g.id), [index.id]);
});

test('a verify reading ahead stops at a cancel with E_CANCELLED and leaves no reader mark', async () => {
  const folder = path.join(root, 'cancel');
  // Two drives of random data: 66 pieces, more than one batch (a cancel is heard between batches).
  storeSample(folder, sampleDrive(), '20261201T070000Z-000001');
  storeSample(folder, sampleDrive(), '20261202T070000Z-000002');
  const controller = new AbortController();
  let seen = 0;
  const verifying = verifyFolder(folder, {
    readAhead: true,
    signal: controller.signal,
    onProgress: () => {
      if (++seen === 3) controller.abort();
    },
  });
  await assert.rejects(verifying, (err) => err instanceof ImprintError && err.code === 'E_CANCELLED');
  assert.deepEqual(fs.readdirSync(path.join(folder, READERS_DIR)), [], 'its reader mark is removed');
});
