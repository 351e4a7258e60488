import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../engine/errors';
import { passphraseFromOptions } from './passphrase';

/** Where a passphrase comes from: a file (one trailing newline dropped, nothing else), a named variable, never both, never empty. */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-pass-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Buffer): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
};
const refused = (fn: () => unknown, re: RegExp): void => assert.throws(fn, (e: unknown) => e instanceof ImprintError && e.code === 'E_BAD_ARGUMENTS' && re.test(e.message));

test('a passphrase file gives its content less one trailing newline; spaces and inner newlines are kept', () => {
  assert.equal(passphraseFromOptions({ 'passphrase-file': file('a', ' two words \n') }), ' two words ');
  assert.equal(passphraseFromOptions({ 'passphrase-file': file('b', 'crlf\r\n') }), 'crlf');
  assert.equal(passphraseFromOptions({ 'passphrase-file': file('c', 'line1\nline2\n\n') }), 'line1\nline2\n');
  assert.equal(passphraseFromOptions({ 'passphrase-file': file('d', 'no newline') }), 'no newline');
});

test('the environment variable the option names; refusals say what is wrong', () => {
  assert.equal(passphraseFromOptions({ 'passphrase-env': 'P' }, { P: 'from env' }), 'from env');
  assert.equal(passphraseFromOptions({}, { P: 'x' }), null, 'no option: no passphrase (the terminal may be asked)');
  refused(() => passphraseFromOptions({ 'passphrase-env': 'MISSING' }, {}), /no environment variable MISSING/);
  refused(() => passphraseFromOptions({ 'passphrase-env': 'E' }, { E: '' }), /empty/);
  refused(() => passphraseFromOptions({ 'passphrase-file': file('e', '\n') }), /empty/);
  refused(() => passphraseFromOptions({ 'passphrase-file': path.join(dir, 'nope') }), /does not exist/);
  refused(() => passphraseFromOptions({ 'passphrase-file': file('big', Buffer.alloc(65 << 10, 0x61)) }), /not a passphrase file/);
  refused(() => passphraseFromOptions({ 'passphrase-file': dir }), /not a passphrase file/);
  refused(() => passphraseFromOptions({ 'passphrase-file': file('f', 'x'), 'passphrase-env': 'P' }, { P: 'y' }), /not both/);
});
