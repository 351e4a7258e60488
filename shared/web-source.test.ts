import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { imageUrlProblem, sha256Problem, urlFileName } from './web-source';

test('a typed image URL is checked for what needs no network', () => {
  assert.equal(imageUrlProblem('https://example.org/os.img.xz'), null);
  assert.equal(imageUrlProblem('  http://127.0.0.1:8000/a.img  '), null);
  assert.match(imageUrlProblem('') ?? '', /Type the address/);
  assert.match(imageUrlProblem('example.org/os.img') ?? '', /not a web address/);
  assert.match(imageUrlProblem('ftp://example.org/os.img') ?? '', /not ftp/);
  assert.match(imageUrlProblem('https://example.org/') ?? '', /no file/);
  assert.match(imageUrlProblem(`https://example.org/${'a'.repeat(4000)}`) ?? '', /at most 4000/);
});

test('a pasted SHA-256 is 64 hex digits or nothing', () => {
  assert.equal(sha256Problem(''), null);
  assert.equal(sha256Problem('AB'.repeat(32)), null);
  assert.match(sha256Problem('abc') ?? '', /this is 3 characters/);
  assert.match(sha256Problem('z'.repeat(64)) ?? '', /other characters/);
});

test('a URL is named by its file', () => {
  assert.equal(urlFileName('https://example.org/dl/Fedora%20Workstation.iso?x=1'), 'Fedora Workstation.iso');
  assert.equal(urlFileName('https://example.org/'), 'example.org');
  assert.equal(urlFileName('nonsense'), 'nonsense');
});
