import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectFormat, type ImageFormat } from './detect-format';
import { fixtureDir, pseudoRandom } from '../testing/image-fixtures';

/** Output of a real compressor fed `data` on stdin. */
function compress(tool: string, args: string[], data: Buffer): Buffer {
  return execFileSync(tool, args, { input: data, maxBuffer: 1 << 26 });
}

const sample = Buffer.concat([Buffer.from('an image: '.repeat(2000)), pseudoRandom(50_000, 'detect')]);

function zipOf(files: Record<string, Buffer>, extra: string[] = []): Buffer {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'detect-zip-'));
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
  execFileSync('zip', ['-q', ...extra, 'out.zip', ...Object.keys(files)], { cwd: dir });
  return fs.readFileSync(path.join(dir, 'out.zip'));
}

test('each real compressor output is told by its content', () => {
  const table: [string, Buffer, ImageFormat][] = [
    ['gzip -1', compress('gzip', ['-1', '-c'], sample), 'gzip'],
    ['gzip -9 -n', compress('gzip', ['-9', '-n', '-c'], sample), 'gzip'],
    ['xz', compress('xz', ['-c'], sample), 'xz'],
    ['xz --check=none -T2', compress('xz', ['-c', '--check=none', '-T2'], sample), 'xz'],
    ['zstd', compress('zstd', ['-q', '-c'], sample), 'zstd'],
    ['zstd --no-check -19', compress('zstd', ['-q', '-c', '--no-check', '-19'], sample), 'zstd'],
    ['bzip2 -1', compress('bzip2', ['-1', '-c'], sample), 'bzip2'],
    ['bzip2 -9', compress('bzip2', ['-9', '-c'], sample), 'bzip2'],
    ['zip (deflated)', zipOf({ 'os.img': sample }), 'zip'],
    ['zip -0 (stored)', zipOf({ 'os.img': sample }, ['-0']), 'zip'],
  ];
  for (const [name, bytes, format] of table) {
    assert.equal(detectFormat(bytes.subarray(0, 16)), format, name);
    // Callers pass the first bytes only; the answer must not need more.
    assert.equal(detectFormat(bytes.subarray(0, 8)), format, `${name} (8 bytes)`);
  }
});

test('raw images: file systems, partition tables, ISO, random data, text', () => {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'detect-raw-'));
  const ext4 = path.join(dir, 'ext4.img');
  fs.writeFileSync(ext4, '');
  fs.truncateSync(ext4, 4 << 20);
  execFileSync('mkfs.ext4', ['-q', '-F', ext4]);
  const fat = path.join(dir, 'fat.img');
  execFileSync('mkfs.vfat', ['-C', fat, '2048']);
  const mbr = path.join(dir, 'mbr.img');
  fs.writeFileSync(mbr, '');
  fs.truncateSync(mbr, 2 << 20);
  execFileSync('sfdisk', ['--quiet', mbr], { input: 'label: dos\nstart=2048, type=83\n' });
  const head = (p: string): Buffer => fs.readFileSync(p).subarray(0, 16);
  const table: [string, Buffer][] = [
    ['ext4', head(ext4)],
    ['FAT', head(fat)],
    ['MBR', head(mbr)],
    ['random', pseudoRandom(16, 'raw')],
    ['zeros', Buffer.alloc(16)],
    ['text', Buffer.from('#!/bin/sh\necho hello\n')],
  ];
  for (const [name, bytes] of table) assert.equal(detectFormat(bytes), 'raw', name);
});

test('near misses of a magic are raw', () => {
  const table: [string, number[]][] = [
    ['empty', []],
    ['one byte of gzip magic', [0x1f]],
    ['"BZh" without a block size digit', [0x42, 0x5a, 0x68, 0x30, 0, 0, 0, 0]],
    ['"BZh" followed by a letter', [0x42, 0x5a, 0x68, 0x41, 0, 0, 0, 0]],
    ['"BZh" at the very end', [0x42, 0x5a, 0x68]],
    ['xz magic missing its last byte', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x01, 0, 0]],
    ['zstd magic off by one', [0x28, 0xb5, 0x2f, 0xfe, 0, 0, 0, 0]],
    ['zip central directory header (not a start)', [0x50, 0x4b, 0x01, 0x02, 0, 0, 0, 0]],
    ['lz4 frame (unsupported, so treated as raw)', [0x04, 0x22, 0x4d, 0x18, 0, 0, 0, 0]],
  ];
  for (const [name, bytes] of table) assert.equal(detectFormat(Uint8Array.from(bytes)), 'raw', name);
  for (const digit of [0x31, 0x35, 0x39]) assert.equal(detectFormat(Uint8Array.from([0x42, 0x5a, 0x68, digit])), 'bzip2');
});

test('an empty zip archive (only the end record) is a zip, so it is refused as holding no image', () => {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'detect-empty-zip-'));
  fs.writeFileSync(path.join(dir, 'a'), 'x');
  execFileSync('zip', ['-q', 'e.zip', 'a'], { cwd: dir });
  execFileSync('zip', ['-q', '-d', 'e.zip', 'a'], { cwd: dir });
  const bytes = fs.readFileSync(path.join(dir, 'e.zip'));
  assert.equal(bytes.readUInt32LE(0), 0x06054b50, 'zip wrote an archive that is only an end record');
  assert.equal(detectFormat(bytes), 'zip');
});
