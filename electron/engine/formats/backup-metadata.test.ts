import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { asBackupMetadata, sidecarPathOf, type BackupMetadata } from '../../../shared/backup-metadata';
import { readZstdLayout } from './zstd-frames';
import { decodeEmbeddedMetadata, encodeEmbeddedMetadata, findBackupMetadata, writeMetadataFile, ZSTD_METADATA_MAGIC } from './backup-metadata';
import { noise, tempDir } from '../testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../testing/run-tool';

/**
 * Metadata inside a backup must not change what ordinary tools decompress:
 * checked with the zstd and gzip programs themselves.
 */

function sample(overrides: Partial<BackupMetadata> = {}): BackupMetadata {
  return {
    kind: 'imprint-backup',
    schema: 1,
    imprintVersion: '0.1.0',
    createdAt: '2026-01-02T03:04:05.000Z',
    size: 3 << 20,
    sha256: 'a'.repeat(64),
    compression: 'zstd',
    compressionLevel: 3,
    source: { device: '/dev/sdz', model: 'Überstick 3000', serial: 'SN-42', logicalBlockSize: 512 },
    partitionTable: {
      type: 'mbr',
      diskId: '0badf00d',
      sectorSize: 512,
      partitions: [{ number: 1, start: 1 << 20, size: 2 << 20, type: '83', typeName: 'Linux', name: null, uuid: null, bootable: true, filesystem: { type: 'ext4', label: 'root', uuid: null } }],
      notes: [],
    },
    filesystem: null,
    ...overrides,
  };
}

/** Content with text and noise, so the compressors make several blocks. */
function content(): Buffer {
  return Buffer.concat([Buffer.from('x'.repeat(1 << 20)), noise(1 << 20, 7), Buffer.alloc(1 << 20)]);
}

for (const format of ['zstd', 'gzip'] as const) {
  test(`${format}: metadata appended to a file made by the ${format} program leaves its output byte for byte the same`, async () => {
    const t = tempDir(`meta-${format}`);
    try {
      const raw = path.join(t.dir, 'drive.img');
      fs.writeFileSync(raw, content());
      await runTool(format, ['-q', '-k', raw]);
      const file = `${raw}.${format === 'zstd' ? 'zst' : 'gz'}`;
      const meta = sample({ compression: format });
      const trailer = encodeEmbeddedMetadata(format, meta);
      assert.ok(trailer);
      fs.appendFileSync(file, trailer);

      const out = path.join(t.dir, 'out.img');
      await runTool('sh', ['-c', `${format} -dc "$1" > "$2"`, 'sh', file, out], SLOW_TOOL_MS);
      assert.ok(fs.readFileSync(out).equals(content()), `${format} -dc output differs`);
      await runTool(format, ['-t', file]);
      if (format === 'gzip') assert.ok(zlib.gunzipSync(fs.readFileSync(file)).equals(content()), "Node's gunzip output differs");
      else assert.deepEqual(readZstdLayout(file)?.skippable.map((s) => s.magic), [ZSTD_METADATA_MAGIC]);

      const whole = fs.readFileSync(file);
      assert.deepEqual(decodeEmbeddedMetadata(whole), meta);
      // The record must end the file: anything after it means it is not ours to trust.
      assert.equal(decodeEmbeddedMetadata(Buffer.concat([whole, Buffer.from([0])])), null);
      const found = findBackupMetadata(file);
      assert.equal(found?.from, 'embedded');
      assert.deepEqual(found?.metadata, meta);
    } finally {
      t.remove();
    }
  });
}

test('xz and raw backups have no place inside: the sidecar is the record', () => {
  assert.equal(encodeEmbeddedMetadata('xz', sample({ compression: 'xz' })), null);
  assert.equal(encodeEmbeddedMetadata('none', sample({ compression: 'none', compressionLevel: null })), null);
  const t = tempDir('meta-sidecar');
  try {
    const file = path.join(t.dir, 'backup.img');
    fs.writeFileSync(file, Buffer.alloc(4096));
    assert.equal(findBackupMetadata(file), null);
    const meta = sample({ compression: 'none', compressionLevel: null });
    writeMetadataFile(sidecarPathOf(file), meta);
    assert.deepEqual(findBackupMetadata(file), { metadata: meta, from: 'sidecar', notes: [] });
  } finally {
    t.remove();
  }
});

test('a sidecar that disagrees with the record inside the file is named, and the inside one wins', () => {
  const t = tempDir('meta-conflict');
  try {
    const file = path.join(t.dir, 'b.img.zst');
    const inside = sample();
    fs.writeFileSync(file, encodeEmbeddedMetadata('zstd', inside) as Buffer);
    writeMetadataFile(sidecarPathOf(file), sample({ sha256: 'b'.repeat(64) }));
    const found = findBackupMetadata(file);
    assert.equal(found?.metadata.sha256, inside.sha256);
    assert.match(found?.notes.join(' ') ?? '', /describes a different backup/);
  } finally {
    t.remove();
  }
});

test('asBackupMetadata accepts only complete records of this schema', () => {
  const good = sample();
  assert.deepEqual(asBackupMetadata(JSON.parse(JSON.stringify(good))), good);
  const broken: unknown[] = [
    null,
    [],
    { ...good, kind: 'something-else' },
    { ...good, schema: 2 },
    { ...good, sha256: 'A'.repeat(64) },
    { ...good, sha256: 'a'.repeat(63) },
    { ...good, size: 0 },
    { ...good, size: -1 },
    { ...good, compression: 'lz4' },
    { ...good, source: { ...good.source, serial: 42 } },
    { ...good, partitionTable: { ...good.partitionTable, type: 'apm' } },
    { ...good, partitionTable: { ...(good.partitionTable as object), partitions: [{ number: 1 }] } },
  ];
  for (const b of broken) assert.equal(asBackupMetadata(b), null, JSON.stringify(b)?.slice(0, 80));
});
