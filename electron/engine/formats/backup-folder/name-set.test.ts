import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import { NAME_BYTES, NameSet, firstOccurrences } from './name-set';

/** NameSet against a Set of hex strings, the form it replaces, on the same names. */

test('a NameSet holds what a Set of the same names holds, through growth, repeats and names that differ only at their end', () => {
  const set = new NameSet(4);
  const reference = new Map<string, number>();
  const names = crypto.randomBytes(5000 * NAME_BYTES);
  // Names sharing their first 31 bytes: the whole name decides, not a prefix.
  for (let i = 1000; i < 1100; i++) names.copy(names, i * NAME_BYTES, 0, NAME_BYTES - 1);
  // Repeats: every 7th name is an earlier one again.
  for (let i = 7; i < 5000; i += 7) names.copy(names, i * NAME_BYTES, (i >> 1) * NAME_BYTES, ((i >> 1) + 1) * NAME_BYTES);
  for (let i = 0; i < 5000; i++) {
    const hex = names.toString('hex', i * NAME_BYTES, (i + 1) * NAME_BYTES);
    const before = set.size;
    const k = set.add(names, i * NAME_BYTES);
    const known = reference.get(hex);
    if (known === undefined) {
      assert.equal(k, before, `name ${i} is new: it takes the next index`);
      reference.set(hex, k);
    } else assert.equal(k, known, `name ${i} was seen: its first index`);
  }
  assert.equal(set.size, reference.size);
  for (const [hex, k] of reference) {
    assert.equal(set.hex(k), hex);
    assert.equal(set.indexOf(Buffer.from(hex, 'hex')), k);
    assert.equal(set.hasHex(hex), true);
  }
  for (let i = 0; i < 200; i++) assert.equal(set.has(crypto.randomBytes(NAME_BYTES)), false, 'a name never added is absent');
  const near = Buffer.from(names.subarray(0, NAME_BYTES));
  near[NAME_BYTES - 1] = (near[NAME_BYTES - 1] as number) ^ 1;
  assert.equal(set.has(near), reference.has(near.toString('hex')), 'one bit off the last byte is another name');
  assert.throws(() => set.hasHex('../../etc/passwd'), /not a piece name/);
});

test('firstOccurrences gives each name the index of its first equal, as a Map of the same names does', () => {
  const count = 3000;
  const names = crypto.randomBytes(count * NAME_BYTES);
  for (let i = 5; i < count; i += 5) names.copy(names, i * NAME_BYTES, (i % 17) * NAME_BYTES, ((i % 17) + 1) * NAME_BYTES);
  for (let i = 2000; i < 2050; i++) names.copy(names, i * NAME_BYTES, 1, NAME_BYTES); // differ from each other only in the last byte
  const first = firstOccurrences(names);
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const hex = names.toString('hex', i * NAME_BYTES, (i + 1) * NAME_BYTES);
    if (!seen.has(hex)) seen.set(hex, i);
    assert.equal(first[i], seen.get(hex), `name ${i}`);
  }
  assert.ok(seen.size < count, 'the test has repeats');
  assert.deepEqual([...firstOccurrences(Buffer.alloc(0))], []);
});
