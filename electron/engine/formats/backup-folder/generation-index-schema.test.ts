import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../../errors';
import { FolderKeys } from './folder-crypto';
import { GENERATIONS_DIR, generationNamesPath, generationPath } from './folder-layout';
import { compactIndex, generationIds, indexProblem, listGenerations, readGeneration, removeGeneration, removeOrphanNames, writeGeneration, type GenerationIndex } from './generation-index';
import { generationContent } from './generation-content';
import { PieceList, cutRanges, decodePieceList, pieceCount } from './piece-list';
import { sampleDrive, storeSample } from '../../testing/backup-folder-samples';

/**
 * Generation indexes of schema 3 (names in a file of their own), schema 2
 * (names only, in the index) and schema 1 ([offset, length, name] per
 * piece), piece-list.ts: all read into the same pieces, a folder may hold
 * them side by side, and a crafted or damaged one is refused with its
 * reason before anything is built from it.
 */

const MiB = 1 << 20;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-gen-schema-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(root, `f${n++}`);

const asSchema2 = (index: GenerationIndex, id: string): GenerationIndex => ({ ...index, schema: 2, id });
const content = async (folder: string, index: GenerationIndex, keys: FolderKeys | null = null): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const b of generationContent(folder, index, undefined, keys)) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
};

test('the cut of ranges into pieces is what stepping through every byte finds', () => {
  // Independently: a piece is a maximal run of bytes of one range within one window of `size`.
  const naive = (ranges: [number, number][], size: number): [number, number][] => {
    const out: [number, number][] = [];
    for (const [s, l] of ranges) {
      for (let b = s; b < s + l; b++) {
        const last = out[out.length - 1];
        if (last && b !== s && Math.floor(b / size) === Math.floor(last[0] / size)) last[1]++;
        else out.push([b, 1]);
      }
    }
    return out;
  };
  const cases: [number, number][][] = [
    [[0, 4096]],
    [[0, 4097], [4097, 3], [9000, 20000]],
    [[4095, 2], [8191, 8193], [40000, 1]],
    [[12288 - 100, 300], [65536 - 7, 4096 * 3 + 14]],
  ];
  for (const ranges of cases) {
    const expected = naive(ranges, 4096);
    assert.deepEqual([...cutRanges(ranges, 4096)], expected, JSON.stringify(ranges));
    assert.equal(pieceCount(ranges, 4096), expected.length);
  }
});

test('schema 1 and schema 2 indexes read into the same pieces; one folder holds both; schema 2 is half the size or less', async () => {
  const folder = fresh();
  const drive = sampleDrive();
  const old = storeSample(folder, drive, undefined, { schema: 1 }); // written as the first folders were
  assert.equal(JSON.parse(fs.readFileSync(generationPath(folder, old.id), 'utf8')).schema, 1);
  const id2 = '20261206T080000Z-000002';
  writeGeneration(folder, asSchema2(old, id2));
  const onDisk = JSON.parse(fs.readFileSync(generationPath(folder, id2), 'utf8')) as Record<string, unknown>;
  assert.equal(onDisk.schema, 2);
  assert.equal(onDisk.pieces, undefined, 'no spelled-out piece list');
  assert.equal(onDisk.pieceCount, old.pieces.length);
  assert.equal(Buffer.from(onDisk.pieceNames as string, 'base64').toString('hex'), [...old.pieces].map((p) => p[2]).join(''), 'the names, in drive order');
  const back = readGeneration(folder, id2);
  assert.equal(back.schema, 2);
  assert.deepEqual(back.pieces, old.pieces);
  assert.deepEqual(readGeneration(folder, old.id).pieces, old.pieces);
  const listed = listGenerations(folder);
  assert.deepEqual(listed.map((g) => ('index' in g ? g.index.schema : g.error)), [1, 2]);
  assert.ok(fs.statSync(generationPath(folder, id2)).size * 2 <= fs.statSync(generationPath(folder, old.id)).size + 2 * 4096, 'the metadata is the same; the piece list shrinks');
  assert.deepEqual(await content(folder, back), await content(folder, old));
});

test('an encrypted folder seals schema 2 indexes as it sealed schema 1 ones', async () => {
  const folder = fresh();
  const made = FolderKeys.create('correct horse battery staple');
  const old = storeSample(folder, sampleDrive(), '20261206T070000Z-000001', { secret: made, schema: 1 });
  const id2 = '20261206T080000Z-000002';
  writeGeneration(folder, asSchema2(old, id2), made.keys);
  const file = fs.readFileSync(generationPath(folder, id2), 'utf8');
  assert.equal(JSON.parse(file).kind, 'imprint-backup-generation-sealed');
  assert.equal(file.includes(old.pieces.at(0)?.[2] as string), false, 'no piece name in the clear');
  const back = readGeneration(folder, id2, made.keys);
  assert.deepEqual(back.pieces, old.pieces);
  assert.deepEqual(await content(folder, back, made.keys), await content(folder, old, made.keys));
  assert.throws(() => readGeneration(folder, id2, FolderKeys.create('wrong').keys), /authentication/);
});

test('a crafted schema 2 index is refused with its reason, before anything is built from it', () => {
  const folder = fresh();
  const index = asSchema2(storeSample(folder, sampleDrive(), undefined, { schema: 1 }), '20261206T070000Z-000001');
  const good = compactIndex(index);
  assert.equal(indexProblem(JSON.parse(JSON.stringify(good)), index.id), null);
  const names = good.pieceNames as string;
  const count = good.pieceCount as number;
  const crafted: [string, (g: Record<string, unknown>) => void, RegExp][] = [
    ['no names', (g) => delete g.pieceNames, /not base64/],
    ['names that are not base64', (g) => (g.pieceNames = `../${names.slice(3)}`), /not base64/],
    ['one name short', (g) => (g.pieceNames = Buffer.from(names, 'base64').subarray(32).toString('base64')), /characters, not/],
    ['one name too many', (g) => (g.pieceNames = names + Buffer.alloc(32).toString('base64')), /characters, not/],
    ['a count the ranges do not cut into', (g) => ((g.pieceCount = count + 3), (g.pieceNames = Buffer.alloc(32 * (count + 3)).toString('base64'))), /cut into/],
    ['a count of a billion and no names to match', (g) => (g.pieceCount = 1e9), /characters, not the 1000000000/],
    ['a negative count', (g) => (g.pieceCount = -1), /count is malformed/],
    ['a fractional count', (g) => (g.pieceCount = count + 0.5), /count is malformed/],
    ['a count as text', (g) => (g.pieceCount = String(count)), /count is malformed/],
    ['a range moved so that it cuts differently', (g) => ((g.metadata as GenerationIndex['metadata']).storage!.ranges[1] = [(1 << 20) + 4096, 2 << 20]), /cut into|description/],
    ['another piece size (the names were cut at 64 KiB)', (g) => (g.pieceSize = 128 << 10), /cut into/],
    ['a piece size that is not a size', (g) => (g.pieceSize = 1000), /piece size/],
    ['a newer schema', (g) => (g.schema = 4), /newer one/],
  ];
  for (const [what, mutate, reason] of crafted) {
    const g = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    mutate(g);
    assert.match(indexProblem(JSON.parse(JSON.stringify(g)), index.id) ?? 'accepted', reason, what);
    fs.writeFileSync(path.join(folder, GENERATIONS_DIR, `${index.id}.json`), JSON.stringify(g));
    assert.throws(() => readGeneration(folder, index.id), (e: unknown) => e instanceof ImprintError && e.code === 'E_CORRUPT_SOURCE' && reason.test(e.message), what);
  }
  // Checked on its own too: the names' text is measured before it is decoded.
  assert.match(decodePieceList([[0, 4096]], 4096, 2 ** 52, 'AAAA') as string, /characters/);
});

test('an index whose pieces are not the cut of its ranges is never written (a bug, not a backup)', () => {
  const folder = fresh();
  const index = asSchema2(storeSample(folder, sampleDrive(), undefined, { schema: 1 }), '20261206T070000Z-000001');
  const shifted = { ...index, pieces: PieceList.ofRefs([...index.pieces].map((p, i) => (i === 1 ? ([p[0] + 4096, p[1] - 4096, p[2]] as typeof p) : p))) };
  for (const schema of [2, 3] as const) {
    assert.throws(() => writeGeneration(folder, { ...shifted, schema }), (e: unknown) => e instanceof ImprintError && e.code === 'E_INTERNAL' && /not the cut/.test(e.message));
    assert.throws(() => writeGeneration(folder, { ...index, schema, pieces: PieceList.ofRefs([...index.pieces].slice(1)) }), /pieces for ranges that cut into/);
  }
  assert.equal(fs.existsSync(generationNamesPath(folder, index.id)), false, 'no names file either');
  assert.equal(fs.existsSync(generationPath(folder, index.id)), true, 'the sample\'s own schema 1 index is untouched');
  assert.equal(JSON.parse(fs.readFileSync(generationPath(folder, index.id), 'utf8')).schema, 1);
});

test('schema 3 keeps the names in generations/<id>.names, bytes as they are, and the index only their count and SHA-256', async () => {
  const folder = fresh();
  const drive = sampleDrive();
  const old = storeSample(folder, drive, undefined, { schema: 1 });
  const index = storeSample(folder, drive, '20261206T080000Z-000002');
  assert.equal(index.schema, 3, 'what Imprint writes');
  const onDisk = JSON.parse(fs.readFileSync(generationPath(folder, index.id), 'utf8')) as Record<string, unknown>;
  assert.equal(onDisk.schema, 3);
  assert.equal(onDisk.pieces, undefined);
  assert.equal(onDisk.pieceNames, undefined);
  assert.equal(onDisk.pieceCount, index.pieces.length);
  const names = fs.readFileSync(generationNamesPath(folder, index.id));
  assert.equal(names.toString('hex'), [...old.pieces].map((p) => p[2]).join(''), 'the names, in drive order, 32 bytes each');
  assert.equal(onDisk.pieceNamesSha256, crypto.createHash('sha256').update(names).digest('hex'));
  const back = readGeneration(folder, index.id);
  assert.deepEqual([...back.pieces], [...old.pieces]);
  assert.deepEqual(await content(folder, back), await content(folder, old));
  assert.deepEqual(listGenerations(folder).map((g) => ('index' in g ? g.index.schema : g.error)), [1, 3]);
});

test('a schema 3 names file that is missing, cut short, grown, altered or another generation\'s is refused, by the listing where its size tells', () => {
  const folder = fresh();
  const drive = sampleDrive();
  const a = storeSample(folder, drive, '20261206T070000Z-000001');
  const changed = Buffer.from(drive);
  changed[MiB + 5] = (changed[MiB + 5] as number) ^ 1;
  const b = storeSample(folder, changed, '20261206T080000Z-000002');
  const file = generationNamesPath(folder, b.id);
  const good = fs.readFileSync(file);
  assert.notDeepEqual(good, fs.readFileSync(generationNamesPath(folder, a.id)), 'the two generations name different pieces');
  const flipped = Buffer.from(good);
  flipped[40] = (flipped[40] as number) ^ 0x80;
  const cases: [string, (() => void), RegExp, boolean][] = [
    ['missing', () => fs.rmSync(file), /names file (is missing|cannot be read)/, true],
    ['cut short', () => fs.writeFileSync(file, good.subarray(0, good.length - 32)), /holds \d+ bytes, not the \d+ names/, true],
    ['grown', () => fs.writeFileSync(file, Buffer.concat([good, Buffer.alloc(32)])), /holds \d+ bytes, not the \d+ names/, true],
    ['one bit flipped', () => fs.writeFileSync(file, flipped), /checksum differs/, false],
    ["the other generation's", () => fs.copyFileSync(generationNamesPath(folder, a.id), file), /checksum differs/, false],
  ];
  for (const [what, damage, reason, listed] of cases) {
    damage();
    assert.throws(() => readGeneration(folder, b.id), (e: unknown) => e instanceof ImprintError && e.code === 'E_CORRUPT_SOURCE' && reason.test(e.message), what);
    const row = listGenerations(folder)[1];
    assert.equal(row !== undefined && 'error' in row, listed, `${what}: ${listed ? 'the listing says so' : 'only reading the names finds it'}`);
    fs.writeFileSync(file, good);
    assert.deepEqual(readGeneration(folder, b.id).pieces, b.pieces, `${what}: put back, it reads again`);
  }
});

test('an encrypted folder seals a schema 3 names file to its generation: no name in the clear, a wrong key or a swapped file fails authentication', () => {
  const folder = fresh();
  const made = FolderKeys.create('correct horse battery staple');
  const a = storeSample(folder, sampleDrive(), '20261206T070000Z-000001', { secret: made });
  const b = storeSample(folder, sampleDrive(), '20261206T080000Z-000002', { secret: made });
  const sealed = fs.readFileSync(generationNamesPath(folder, a.id));
  assert.equal(sealed.length, a.pieces.length * 32 + 28, 'nonce and tag around the names');
  for (let i = 0; i < a.pieces.length; i++) assert.equal(sealed.includes(a.pieces.names.subarray(i * 32, (i + 1) * 32)), false, `name ${i} is not in the clear`);
  assert.deepEqual(readGeneration(folder, a.id, made.keys).pieces, a.pieces);
  assert.throws(() => readGeneration(folder, a.id, FolderKeys.create('wrong').keys), /authentication/);
  // Same size, sealed with the same key, but for the other generation: the binding to the id refuses it.
  fs.copyFileSync(generationNamesPath(folder, b.id), generationNamesPath(folder, a.id));
  assert.throws(() => readGeneration(folder, a.id, made.keys), /names file fails authentication/);
});

test('a names file without its index (a backup stopped between the two) is removed under the lock; one with its index stays', () => {
  const folder = fresh();
  const index = storeSample(folder, sampleDrive());
  const orphanId = '20261206T090000Z-00000f';
  fs.copyFileSync(generationNamesPath(folder, index.id), generationNamesPath(folder, orphanId));
  fs.writeFileSync(path.join(folder, GENERATIONS_DIR, 'notes.names'), 'not ours');
  assert.deepEqual(generationIds(folder), [index.id], 'a names file alone is no generation');
  removeOrphanNames(folder);
  assert.deepEqual(fs.readdirSync(path.join(folder, GENERATIONS_DIR)).sort(), [`${index.id}.json`, `${index.id}.names`, 'notes.names']);
  removeGeneration(folder, index.id);
  assert.deepEqual(fs.readdirSync(path.join(folder, GENERATIONS_DIR)), ['notes.names']);
});
