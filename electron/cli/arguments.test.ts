import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { closest, editDistance, optionsIn, positionalArgs } from './arguments';

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('yse', 'yes'), 1);
  assert.equal(editDistance('flsh', 'flash'), 1);
  assert.equal(editDistance('flash', 'flash'), 0);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('closest: a unique prefix, else the nearest within a third of the length, else nothing', () => {
  const options = ['--yes', '--json', '--help', '--no-verify', '--sha256', '--stdin-cancel'];
  assert.equal(closest('--yse', options), '--yes');
  assert.equal(closest('--no-ver', options), '--no-verify');
  assert.equal(closest('--sha265', options), '--sha256');
  assert.equal(closest('--zzzzzz', options), null);
  assert.equal(closest('-x', options), null);
  assert.equal(closest('--s', options), null); // two options start with it
  assert.equal(closest('flsh', ['drives', 'flash', 'verify', 'hash']), 'flash');
});

test('optionsIn finds the long options a help text names, not words that merely start with a dash', () => {
  const found = optionsIn('Usage: imprint backup DEVICE OUTPUT [--compress zstd]\n  zstd -dc OUTPUT | dd\n  --level N   level\n  --no-space-check  x');
  assert.deepEqual(found.sort(), ['--compress', '--help', '--json', '--level', '--no-space-check']);
});

test('positionalArgs names the missing argument and the extra one', () => {
  assert.deepEqual(positionalArgs('flash', ['a.img', '/dev/x', '/dev/y'], 'IMAGE TARGET...'), ['a.img', '/dev/x', '/dev/y']);
  assert.throws(() => positionalArgs('flash', ['a.img'], 'IMAGE TARGET...'), /^.*missing TARGET\. Usage: imprint flash IMAGE TARGET\.\.\./);
  assert.throws(() => positionalArgs('verify', [], 'IMAGE TARGET'), /missing IMAGE\./);
  assert.throws(() => positionalArgs('hash', ['a', 'b'], 'IMAGE_OR_DEVICE'), /unexpected argument b\./);
  assert.throws(() => positionalArgs('hash', ['a'], 'IMAGE_OR_DEVICE') && positionalArgs('hash', ['a', 'b', 'c'], 'IMAGE_OR_DEVICE'), (e: unknown) => (e as { code?: string }).code === 'E_BAD_ARGUMENTS');
});
