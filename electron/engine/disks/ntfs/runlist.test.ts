import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyFixups } from './fixups';
import { decodeRunlist, NtfsFormatError } from './runlist';

/**
 * Edge cases of the two low-level decoders that real volumes rarely show:
 * crafted bytes, each built from the format's definition (layout.h), not
 * from the decoder's output.
 */

test('runlist: signed deltas, sparse runs, end marker', () => {
  // 0x21: 1-byte length 0x10, 2-byte LCN 0x0100; 0x11: length 8, delta -0x10 (0xF0);
  // 0x01: length 4 sparse; 0x11: length 2, delta +0x7F; 0x00 end.
  const b = Buffer.from([0x21, 0x10, 0x00, 0x01, 0x11, 0x08, 0xf0, 0x01, 0x04, 0x11, 0x02, 0x7f, 0x00]);
  assert.deepEqual(decodeRunlist(b, 0, b.length, 0, 1000), [
    { vcn: 0, lcn: 0x100, length: 0x10 },
    { vcn: 0x10, lcn: 0xf0, length: 8 },
    { vcn: 0x18, lcn: null, length: 4 },
    { vcn: 0x1c, lcn: 0x16f, length: 2 },
  ]);
});

test('runlist: runs outside the filesystem, before cluster 0, malformed or unterminated are refused', () => {
  const cases: Array<[number[], RegExp]> = [
    [[0x21, 0x10, 0xf0, 0x03, 0x00], /outside the filesystem/], // LCN 0x3F0 + 16 > 1000
    [[0x11, 0x10, 0x80, 0x00], /outside the filesystem/], // LCN -128
    [[0x11, 0x00, 0x05, 0x00], /invalid length/], // zero-length run
    [[0x19, 0x01, 0x00], /malformed/], // 9-byte LCN
    [[0x11, 0x01, 0x05], /past the end/], // no end marker
    [[0x31, 0x01, 0x05], /malformed/], // header promises bytes that are not there
  ];
  for (const [bytes, message] of cases) {
    const b = Buffer.from(bytes);
    assert.throws(() => decodeRunlist(b, 0, b.length, 0, 1000), (err: unknown) => err instanceof NtfsFormatError && message.test(err.message), bytes.join(','));
  }
});

function record(size: number, usn: number): Buffer {
  const b = Buffer.alloc(size, 0xab);
  b.write('FILE', 0, 'latin1');
  b.writeUInt16LE(0x30, 4);
  b.writeUInt16LE(size / 512 + 1, 6);
  b.writeUInt16LE(usn, 0x30);
  for (let i = 0; i < size / 512; i++) {
    b.writeUInt16LE(0x1000 + i, 0x32 + i * 2); // the real bytes
    b.writeUInt16LE(usn, i * 512 + 510);
  }
  return b;
}

test('fixups: restored when whole, refused when torn or misplaced', () => {
  const good = record(1024, 0x0007);
  assert.equal(applyFixups(good, 'FILE'), null);
  assert.equal(good.readUInt16LE(510), 0x1000);
  assert.equal(good.readUInt16LE(1022), 0x1001);
  const torn = record(1024, 0x0007);
  torn.writeUInt16LE(0x0008, 1022);
  assert.match(applyFixups(torn, 'FILE') ?? '', /torn write: sector 1/);
  const wrongCount = record(1024, 7);
  wrongCount.writeUInt16LE(2, 6);
  assert.match(applyFixups(wrongCount, 'FILE') ?? '', /out of place/);
  const baad = record(1024, 7);
  baad.write('BAAD', 0, 'latin1');
  assert.match(applyFixups(baad, 'FILE') ?? '', /marked bad/);
  assert.match(applyFixups(record(1024, 7), 'INDX') ?? '', /no INDX signature/);
});
