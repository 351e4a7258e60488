import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { findZipImage } from './zip-entry';
import { ImprintError } from '../errors';
import { fixtureDir, pseudoRandom } from '../testing/image-fixtures';

/** A zip made by the real `zip` from `files` (name -> content; a name ending in / is a folder). */
function makeZip(files: Record<string, Buffer | string>, zipArgs: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'zip-entry-'));
  const names: string[] = [];
  for (const [name, data] of Object.entries(files)) {
    const p = path.join(dir, 'in', name);
    if (name.endsWith('/')) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
    }
    names.push(name);
  }
  const out = path.join(dir, 'archive.zip');
  execFileSync('zip', ['-q', ...zipArgs, out, ...names], { cwd: path.join(dir, 'in') });
  return out;
}

const image = Buffer.concat([pseudoRandom(300_000, 'zip-image'), Buffer.alloc(200_000), Buffer.from('tail of the image\n'.repeat(500))]);

async function refusal(p: string): Promise<ImprintError> {
  try {
    await findZipImage(p);
  } catch (err) {
    assert.ok(err instanceof ImprintError, `expected an ImprintError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${p} was accepted`);
}

test('one image beside a README and checksums: the image is picked and its data located', async () => {
  for (const [label, args] of [['deflated', []], ['stored', ['-0']]] as const) {
    const p = makeZip(
      {
        'README.txt': 'Flash raspios.img to a card.\n',
        'raspios.img': image,
        'raspios.img.sha256': 'ab'.repeat(32) + '  raspios.img\n',
        'notes.md': '# notes\n',
        'docs/': '',
      },
      [...args],
    );
    const entry = await findZipImage(p);
    assert.equal(entry.name, 'raspios.img', label);
    assert.equal(entry.uncompressedSize, image.length);
    assert.equal(entry.crc32 >>> 0, zlib.crc32(image) >>> 0);
    assert.equal(entry.method, label === 'stored' ? 0 : 8);
    // dataOffset and compressedSize locate exactly the image's bytes in the archive.
    const raw = fs.readFileSync(p).subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
    const content = entry.method === 0 ? raw : zlib.inflateRawSync(raw);
    assert.ok(content.equals(image), `${label}: the located bytes decode to the image`);
  }
});

test('an image in a folder, beside macOS metadata and an empty file, is still the only candidate', async () => {
  const p = makeZip({ 'dist/os-1.2.iso': image, '__MACOSX/dist/._os-1.2.iso': 'resource fork', 'dist/.DS_Store': 'x', 'dist/empty.bin': '' });
  const entry = await findZipImage(p);
  assert.equal(entry.name, 'dist/os-1.2.iso');
});

test('the name does not decide: an image without a usual extension is found', async () => {
  const entry = await findZipImage(makeZip({ 'sdcard': image, 'LICENSE.txt': 'MIT' }));
  assert.equal(entry.name, 'sdcard');
});

test('checksum lists and READMEs without an extension are not images', async () => {
  const entry = await findZipImage(makeZip({ 'os.img': image, SHA256SUMS: 'ab'.repeat(32) + '  os.img\n', README: 'read me\n', MD5SUMS: 'cd'.repeat(16) + '  os.img\n' }));
  assert.equal(entry.name, 'os.img');
});

test('no image inside: E_ZIP_NO_IMAGE naming the archive', async () => {
  const p = makeZip({ 'README.txt': 'nothing to flash\n', 'os.img.sha256': 'ab'.repeat(32), 'folder/': '', 'empty.img': '' });
  const err = await refusal(p);
  assert.equal(err.code, 'E_ZIP_NO_IMAGE');
  assert.equal(err.exitCode, 2);
  assert.ok(err.message.includes(p));
});

test('two images: E_ZIP_SEVERAL_IMAGES naming both', async () => {
  const p = makeZip({ 'a.img': image, 'b/b.iso': image.subarray(0, 1000), 'README.txt': 'two' });
  const err = await refusal(p);
  assert.equal(err.code, 'E_ZIP_SEVERAL_IMAGES');
  assert.equal(err.exitCode, 2);
  assert.match(err.message, /a\.img/);
  assert.match(err.message, /b\/b\.iso/);
});

test('an encrypted image is refused as unsupported, not read as garbage', async () => {
  const err = await refusal(makeZip({ 'os.img': image }, ['-P', 'secret']));
  assert.equal(err.code, 'E_UNSUPPORTED_FORMAT');
  assert.match(err.message, /encrypted/);
});

test('a truncated or mangled archive is a corrupt source, not a crash', async () => {
  const good = fs.readFileSync(makeZip({ 'os.img': image, 'README.txt': 'x' }));
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'zip-bad-'));
  const cases: [string, Buffer][] = [
    ['cut in half', good.subarray(0, good.length >> 1)],
    ['end record missing', good.subarray(0, good.length - 10)],
    ['only a local header', good.subarray(0, 40)],
  ];
  const mangled = Buffer.from(good);
  // The central directory's offset in the end record now points past the file.
  mangled.writeUInt32LE(good.length + 1000, good.length - 6);
  cases.push(['central directory offset past the end', mangled]);
  for (const [name, bytes] of cases) {
    const p = path.join(dir, name.replace(/\W+/g, '-') + '.zip');
    fs.writeFileSync(p, bytes);
    const err = await refusal(p);
    assert.equal(err.code, 'E_CORRUPT_SOURCE', `${name}: ${err.code} ${err.message}`);
  }
});
