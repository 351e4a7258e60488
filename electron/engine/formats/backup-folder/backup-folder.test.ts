import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { ImprintError } from '../../errors';
import { DEFAULT_PIECE_SIZE, GENERATIONS_DIR, LOCK_FILE, clearTmp, openFolder, openOrCreateFolder, piecePath } from './folder-layout';
import { lockFolder } from './folder-lock';
import { generationIds, indexProblem, newGenerationId, listGenerations, readGeneration, resolveGeneration, type GenerationIndex, type PieceRef } from './generation-index';
import { generationContent } from './generation-content';
import { SAMPLE_SIZE, sampleDrive, storeSample } from '../../testing/backup-folder-samples';
import { PieceReader, PieceWriter, sha256Hex } from './piece-store';

/**
 * The backup folder's on-disk format without a drive: pieces stored and read
 * back (and refused when damaged), indexes checked as untrusted input, the
 * lock, and a generation's content rebuilt from its pieces.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-bf-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(root, `f${n++}`);

const MiB = 1 << 20;
const SIZE = SAMPLE_SIZE;

test('pieces round-trip through the folder and a generation rebuilds the zero-filled drive image', async () => {
  const folder = fresh();
  const drive = sampleDrive();
  const index = storeSample(folder, drive);
  assert.equal(index.pieces.length, 1 + (2 * MiB) / DEFAULT_PIECE_SIZE, 'the 2 MiB range is cut at the piece boundaries');
  assert.deepEqual(generationIds(folder), [index.id]);
  const back = readGeneration(folder, index.id);
  assert.deepEqual(back.pieces, index.pieces);
  const parts: Buffer[] = [];
  for await (const b of generationContent(folder, back)) parts.push(Buffer.from(b));
  const image = Buffer.concat(parts);
  const expected = Buffer.alloc(SIZE);
  drive.copy(expected, 0, 0, 12288);
  drive.copy(expected, MiB, MiB, 3 * MiB);
  assert.equal(image.length, SIZE);
  assert.ok(image.equals(expected), 'the rebuilt image is the stored ranges with zeros between');
  // A piece file is an ordinary zstd frame: the zstd tool decodes it to its content.
  const [, len, h] = index.pieces.at(0) as [number, number, string];
  const z = spawnSync('zstd', ['-dc', piecePath(folder, h)]);
  assert.equal(z.status, 0);
  assert.equal(sha256Hex(z.stdout), h);
  assert.equal(z.stdout.length, len);
});

test('a second identical generation stores no piece again', () => {
  const folder = fresh();
  const drive = sampleDrive();
  const first = storeSample(folder, drive, '20261206T070000Z-000001');
  const before = fs.readdirSync(path.join(folder, 'pieces'), { recursive: true }).length;
  const writer = new PieceWriter(folder, 3);
  const h = (first.pieces.at(1) as [number, number, string])[2];
  assert.ok(writer.has(h));
  storeSample(folder, drive, '20261206T070001Z-000002');
  assert.equal(fs.readdirSync(path.join(folder, 'pieces'), { recursive: true }).length, before);
  assert.equal(listGenerations(folder).length, 2);
  assert.equal(resolveGeneration(folder, undefined).id, '20261206T070001Z-000002', 'latest by default');
  assert.equal(resolveGeneration(folder, '1').id, '20261206T070000Z-000001', 'by list number');
  assert.equal(resolveGeneration(folder, '20261206T070000Z-000001').id, '20261206T070000Z-000001', 'by id');
  assert.throws(() => resolveGeneration(folder, '3'), /generations 1 to 2/);
  assert.throws(() => resolveGeneration(folder, '../../etc/passwd'), /no generation/);
});

test('a damaged, truncated, wrong or missing piece is refused by the reader with the reason', () => {
  const folder = fresh();
  const drive = sampleDrive();
  const index = storeSample(folder, drive);
  const reader = new PieceReader(folder);
  const [[, l0, h0], [, l1, h1], [, , h2]] = [...index.pieces] as [[number, number, string], [number, number, string], [number, number, string]];
  assert.equal(reader.read(h0, l0).ok, true);
  // Flip one byte inside the compressed data.
  const f1 = piecePath(folder, h1);
  const bytes = fs.readFileSync(f1);
  bytes.writeUInt8((bytes.readUInt8(bytes.length >> 1) ^ 0xff), bytes.length >> 1);
  fs.writeFileSync(f1, bytes);
  const r1 = reader.read(h1, l1);
  assert.equal(r1.ok, false);
  assert.equal(!r1.ok && r1.problem, 'damaged');
  // Another piece's content under this name: decodes fine, but its SHA-256 is not its name.
  fs.copyFileSync(piecePath(folder, h0), piecePath(folder, h2));
  const r2 = reader.read(h2, l0);
  assert.equal(!r2.ok && r2.detail.includes('SHA-256'), true);
  // Asked for a length the frame does not declare.
  assert.equal(reader.read(h0, l0 - 4096).ok, false);
  fs.rmSync(piecePath(folder, h0));
  const r0 = reader.read(h0, l0);
  assert.equal(!r0.ok && r0.problem, 'missing');
});

test("a piece is checked against its name, not its frame's own XXH64: a wrong frame checksum over the right content reads, and zstd itself refuses that frame", () => {
  const folder = fresh();
  const index = storeSample(folder, sampleDrive());
  const [, length, hash] = [...index.pieces].find(([, l]) => l > 4096) as [number, number, string];
  const file = piecePath(folder, hash);
  const bytes = fs.readFileSync(file);
  // The frame's last 4 bytes are its content checksum (the checksum flag is set on every piece).
  bytes.writeUInt32LE((bytes.readUInt32LE(bytes.length - 4) ^ 0x5a5a5a5a) >>> 0, bytes.length - 4);
  fs.writeFileSync(file, bytes);
  assert.notEqual(spawnSync('zstd', ['-t', '-q', file]).status, 0, 'zstd -t finds the checksum wrong: the decoder here really skips it');
  const r = new PieceReader(folder).read(hash, length);
  assert.equal(r.ok, true, r.ok ? '' : r.detail);
  assert.equal(r.ok && sha256Hex(r.data), hash);
});

test('crafted indexes are refused with a reason, never followed', () => {
  const folder = fresh();
  const index = storeSample(folder, sampleDrive());
  // As a schema 1 index spells out its pieces: each can be edited on its own.
  type Schema1 = Omit<GenerationIndex, 'pieces'> & { pieces: PieceRef[] };
  const schema1: Schema1 = { ...index, schema: 1, pieces: [...index.pieces] };
  const good = JSON.parse(JSON.stringify(schema1)) as Schema1;
  assert.equal(indexProblem(good, index.id), null);
  const crafted: [string, (g: Schema1) => void, RegExp][] = [
    ['a hash that is a path', (g) => ((g.pieces[0] as unknown[])[2] = '../../../../etc/passwd'), /malformed/],
    ['a length beyond the piece size', (g) => ((g.pieces[1] as unknown[])[1] = 3 * MiB), /boundary|not where/],
    ['a negative offset', (g) => ((g.pieces[0] as unknown[])[0] = -4096), /malformed/],
    ['pieces out of drive order', (g) => g.pieces.reverse(), /not where/],
    ['a missing piece', (g) => g.pieces.pop(), /cover/],
    ['an extra piece', (g) => g.pieces.push([5 * MiB, 4096, 'a'.repeat(64)]), /not where/],
    ['a range past the drive', (g) => (g.metadata.storage!.ranges[1] = [MiB, 9 * MiB]), /description/],
    ['chunk checksums for another size', (g) => (g.metadata.storage!.chunkCrc32 = 'AAAA'), /chunk/],
    ['a fractional length', (g) => ((g.pieces[0] as unknown[])[1] = 12287.5), /malformed/],
    ['another id', (g) => (g.id = '20991231T000000Z-ffffff'), /calls itself/],
    ['a huge piece size', (g) => (g.pieceSize = 2 ** 40), /piece size/],
  ];
  for (const [what, mutate, reason] of crafted) {
    const g = JSON.parse(JSON.stringify(schema1)) as Schema1;
    mutate(g);
    const problem = indexProblem(g, index.id);
    assert.match(problem ?? 'accepted', reason, what);
    // Through the file too: reading it is a clean refusal, not a crash.
    fs.writeFileSync(path.join(folder, GENERATIONS_DIR, `${index.id}.json`), JSON.stringify(g));
    assert.throws(() => readGeneration(folder, index.id), (e: unknown) => e instanceof ImprintError && e.code === 'E_CORRUPT_SOURCE', what);
  }
  fs.writeFileSync(path.join(folder, GENERATIONS_DIR, `${index.id}.json`), '{"kind": "imprint-backup-gen');
  assert.throws(() => readGeneration(folder, index.id), /cannot be read/);
  // Files that are not named like generations are not generations (temporary names, strays).
  fs.writeFileSync(path.join(folder, GENERATIONS_DIR, '..hidden.json'), '{}');
  fs.writeFileSync(path.join(folder, GENERATIONS_DIR, `${index.id}.json.tmp`), '{}');
  assert.deepEqual(generationIds(folder), [index.id]);
});

test('a folder holding other files is refused, an empty one is adopted, a file is not a folder', () => {
  const busy = fresh();
  fs.mkdirSync(busy);
  fs.writeFileSync(path.join(busy, 'holiday.jpg'), 'x');
  assert.throws(() => openOrCreateFolder(busy), (e: unknown) => e instanceof ImprintError && e.code === 'E_OUTPUT_EXISTS');
  assert.throws(() => openFolder(busy), (e: unknown) => e instanceof ImprintError && e.code === 'E_NOT_A_BACKUP');
  const empty = fresh();
  fs.mkdirSync(empty);
  assert.equal(openOrCreateFolder(empty).pieceSize, DEFAULT_PIECE_SIZE);
  assert.equal(openFolder(empty).kind, 'imprint-backup-folder');
  const file = fresh();
  fs.writeFileSync(file, '');
  assert.throws(() => openOrCreateFolder(file), /is a file/);
});

test('the lock refuses a second holder by name, and a dead holder\'s lock is taken over', () => {
  const folder = fresh();
  openOrCreateFolder(folder);
  const first = lockFolder(folder, 'backup of /dev/test');
  assert.throws(
    () => lockFolder(folder, 'another backup'),
    (e: unknown) => e instanceof ImprintError && e.code === 'E_FOLDER_BUSY' && e.message.includes(`process ${process.pid} on ${os.hostname()}`) && e.message.includes('backup of /dev/test'),
  );
  first.release();
  assert.equal(fs.existsSync(path.join(folder, LOCK_FILE)), false);
  // A lock left by a process that no longer runs (a finished child's pid) on this machine.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  fs.writeFileSync(path.join(folder, LOCK_FILE), JSON.stringify({ pid: Number(dead), host: os.hostname(), startedAt: 'yesterday', purpose: 'backup' }));
  const taken = lockFolder(folder, 'backup after a crash');
  assert.match(fs.readFileSync(path.join(folder, LOCK_FILE), 'utf8'), new RegExp(`"pid":${process.pid}`));
  taken.release();
  // A lock from another machine is never broken automatically.
  fs.writeFileSync(path.join(folder, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 'now', purpose: 'backup' }));
  assert.throws(() => lockFolder(folder, 'x'), /process 1 on elsewhere/);
  fs.rmSync(path.join(folder, LOCK_FILE));
  fs.writeFileSync(path.join(folder, 'tmp', 'piece.partial'), 'x');
  clearTmp(folder);
  assert.deepEqual(fs.readdirSync(path.join(folder, 'tmp')), []);
});

test('a lock found while its holder is still writing it is refused by the holder\'s name, once written', async () => {
  const folder = fresh();
  openOrCreateFolder(folder);
  const file = path.join(folder, LOCK_FILE);
  // The state between the holder's O_EXCL create and its write: an empty lock file.
  fs.writeFileSync(file, '');
  const holder = JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: 'now', purpose: 'backup of /dev/slow' });
  // Another process writes the holder a moment after it says it has started (this thread waits inside lockFolder meanwhile).
  const writer = spawn(process.execPath, ['-e', 'process.stdout.write("ready"); setTimeout(() => require("fs").writeFileSync(process.argv[1], process.argv[2]), 100)', file, holder]);
  const exited = new Promise((resolve) => writer.on('exit', resolve));
  await new Promise((resolve) => writer.stdout.once('data', resolve));
  assert.throws(() => lockFolder(folder, 'another backup'), (e: unknown) => e instanceof ImprintError && e.code === 'E_FOLDER_BUSY' && e.message.includes('backup of /dev/slow'));
  await exited;
  // One that stays empty (its writer is stuck, or died a moment ago) is refused without a name, and left alone.
  fs.writeFileSync(file, '');
  assert.throws(() => lockFolder(folder, 'another backup'), (e: unknown) => e instanceof ImprintError && e.code === 'E_FOLDER_BUSY' && e.message.includes('its lock file is being written'));
  assert.equal(fs.readFileSync(file, 'utf8'), '');
});

test('generation ids sort in the order the generations were made, even within one second', () => {
  const now = new Date('2026-12-06T12:26:07.250Z');
  const first = newGenerationId(now);
  assert.match(first, /^20261206T122607Z-[0-9a-f]{6}$/);
  // Made in the same second as the newest (two quick backups): it takes the next second.
  let ids = [first];
  for (let i = 0; i < 50; i++) ids.push(newGenerationId(now, ids[ids.length - 1]));
  assert.deepEqual([...ids].sort(), ids, 'sorted ids are the order of making');
  assert.equal(new Set(ids.map((id) => id.slice(0, 16))).size, ids.length, 'every id has its own second');
  assert.match(ids[1] as string, /^20261206T122608Z-/);
  // A later time than the newest keeps its own time.
  assert.match(newGenerationId(new Date('2026-12-06T13:00:00Z'), first), /^20261206T130000Z-/);
  // Across a day's end.
  ids = [newGenerationId(new Date('2026-12-31T23:59:59.900Z'))];
  assert.match(newGenerationId(new Date('2026-12-31T23:59:59.990Z'), ids[0]), /^20270101T000000Z-/);
});
