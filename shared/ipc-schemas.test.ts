import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CALL_NAMES, type CallName } from './ipc-contract';
import { MAX_TARGETS, REQUEST_SCHEMAS, isCallName, validateRequest } from './ipc-schemas';

function rejected(name: CallName | string, payload: unknown): string {
  const r = validateRequest(name, payload);
  assert.equal(r.ok, false, `expected ${JSON.stringify(payload)?.slice(0, 80)} to be refused for ${name}`);
  if (r.ok) throw new Error('unreachable');
  assert.equal(r.error.code, 'E_BAD_ARGUMENTS');
  return r.error.message;
}

function accepted<T>(name: CallName, payload: T): unknown {
  const r = validateRequest(name, payload);
  assert.ok(r.ok, `expected ${JSON.stringify(payload)} to pass for ${name}: ${r.ok ? '' : r.error.message}`);
  return r.value;
}

test('every call in the contract has a schema, and nothing else does', () => {
  assert.deepEqual(Object.keys(REQUEST_SCHEMAS).sort(), [...CALL_NAMES].sort());
});

test('unknown call names are refused, whatever their type', () => {
  for (const name of ['deleteEverything', '__proto__', 'constructor', 'toString', '', 42, null, undefined]) {
    assert.equal(isCallName(name), false);
    assert.match(rejected(name as string, {}), /Unknown call/);
  }
});

test('valid requests pass and come back as fresh objects with the declared fields', () => {
  const req = { image: '/home/me/os.img.xz', targets: ['/dev/sdb', '/dev/sdc'], verify: true };
  const value = accepted('startFlash', req);
  assert.deepEqual(value, req);
  assert.notEqual(value, req);
  assert.deepEqual(accepted('listDrives', {}), {});
  assert.deepEqual(accepted('chooseImage', {}), {});
  assert.deepEqual(accepted('inspectImage', { path: 'C:\\Users\\me\\os.img' }), { path: 'C:\\Users\\me\\os.img' });
  assert.deepEqual(accepted('startBackup', { device: '/dev/sdb', output: '/tmp/b.img.zst', compression: 'zstd' }), { device: '/dev/sdb', output: '/tmp/b.img.zst', compression: 'zstd' });
  assert.deepEqual(accepted('startBackup', { device: '/dev/sdb', output: '/tmp/b.img', compression: 'none', force: true }), { device: '/dev/sdb', output: '/tmp/b.img', compression: 'none', force: true });
  assert.deepEqual(accepted('startBackup', { device: '/dev/sdb', output: '/tmp/b.img.zst', compression: 'zstd', rescue: true }), { device: '/dev/sdb', output: '/tmp/b.img.zst', compression: 'zstd', rescue: true });
  assert.deepEqual(accepted('cancelJob', { jobId: '0b6f2b8e-4c1a-4f3e-9a55-2f1d3c4b5a69' }), { jobId: '0b6f2b8e-4c1a-4f3e-9a55-2f1d3c4b5a69' });
  assert.deepEqual(accepted('chooseBackupPath', { suggestedName: 'sdb-2024.img.zst' }), { suggestedName: 'sdb-2024.img.zst' });
});

test('unknown keys are refused, even on calls that take nothing', () => {
  assert.match(rejected('listDrives', { all: true }), /unknown field "all"/);
  assert.match(rejected('startFlash', { image: '/a.img', targets: ['/dev/sdb'], verify: true, force: true }), /unknown field "force"/);
  // An object literal's __proto__ sets its prototype: not plain data.
  assert.match(rejected('inspectImage', { path: '/a.img', __proto__: { x: 1 } }), /plain object, not an object with a prototype/);
  // An own "__proto__" key, as JSON.parse makes it, is an unknown key like any other.
  assert.match(rejected('inspectImage', JSON.parse('{"path":"/a.img","__proto__":{"polluted":true}}')), /unknown field "__proto__"/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('wrong types are refused with the field named', () => {
  assert.match(rejected('startFlash', { image: '/a.img', targets: '/dev/sdb', verify: true }), /targets must be a list/);
  assert.match(rejected('startFlash', { image: '/a.img', targets: ['/dev/sdb'], verify: 'yes' }), /verify must be true or false/);
  assert.match(rejected('startFlash', { image: 7, targets: ['/dev/sdb'], verify: true }), /image must be text/);
  assert.match(rejected('startFlash', { image: '/a.img', targets: [null], verify: true }), /targets\[0\] must be text/);
  assert.match(rejected('startBackup', { device: '/dev/sdb', output: '/b.img', compression: 'rar' }), /compression must be one of/);
  assert.match(rejected('startBackup', { device: '/dev/sdb', output: '/b.img', compression: 'zstd', force: 1 }), /force must be true or false/);
  assert.match(rejected('startBackup', { device: '/dev/sdb', output: '/b.img', compression: 'zstd', rescue: 'yes' }), /rescue must be true or false/);
  for (const payload of [null, undefined, [], 'x', 3, new Date()]) assert.match(rejected('listDrives', payload), /must be a plain object/);
});

test('missing fields are refused', () => {
  assert.match(rejected('startFlash', { image: '/a.img', targets: ['/dev/sdb'] }), /verify is missing/);
  assert.match(rejected('startRestore', { targets: ['/dev/sdb'], verify: false }), /backup is missing/);
  assert.match(rejected('inspectImage', {}), /path is missing/);
});

test('empty, relative, padded and NUL-bearing paths are refused', () => {
  assert.match(rejected('inspectImage', { path: '' }), /must not be empty/);
  assert.match(rejected('inspectImage', { path: 'os.img' }), /must be a full path/);
  assert.match(rejected('inspectImage', { path: '~/os.img' }), /must be a full path/);
  assert.match(rejected('inspectImage', { path: ' /os.img' }), /spaces/);
  assert.match(rejected('inspectImage', { path: '/os.img\0/etc/passwd' }), /NUL/);
  assert.match(rejected('startFlash', { image: '/a.img', targets: [], verify: true }), /at least one/);
  assert.match(rejected('startFlash', { image: '/a.img', targets: [''], verify: true }), /targets\[0\] must not be empty/);
  assert.match(rejected('revealFile', { path: 'relative/file' }), /full path/);
});

test('absurd sizes are refused', () => {
  assert.match(rejected('inspectImage', { path: '/' + 'a'.repeat(5000) }), /too long/);
  const many = Array.from({ length: MAX_TARGETS + 1 }, (_, i) => `/dev/loop${i}`);
  assert.match(rejected('startFlash', { image: '/a.img', targets: many, verify: true }), /too many entries/);
  accepted('startFlash', { image: '/a.img', targets: many.slice(0, MAX_TARGETS), verify: true });
  assert.match(rejected('cancelJob', { jobId: 'x'.repeat(65) }), /too long/);
  assert.match(rejected('chooseBackupPath', { suggestedName: 'n'.repeat(256) }), /too long/);
  // The message quotes a long value by its length, not in full.
  assert.ok(rejected('inspectImage', { path: 'r'.repeat(3000) }).length < 200);
});

test('the same target twice is refused', () => {
  assert.match(rejected('startFlash', { image: '/a.img', targets: ['/dev/sdb', '/dev/sdb'], verify: true }), /repeats "\/dev\/sdb"/);
});

test('file names and job ids keep to their alphabets', () => {
  assert.match(rejected('chooseBackupPath', { suggestedName: '../../etc/passwd' }), /without folders/);
  assert.match(rejected('chooseBackupPath', { suggestedName: '' }), /must not be empty/);
  assert.match(rejected('cancelJob', { jobId: 'abc def' }), /not a job id/);
  assert.match(rejected('cancelJob', { jobId: '' }), /must not be empty/);
});

test('web flashes take an http(s) URL, an optional SHA-256 and catalogue ids of the service\'s own form', () => {
  const targets = ['/dev/sdb'];
  const sha = 'ab'.repeat(32);
  assert.deepEqual(accepted('startFlashUrl', { url: 'https://example.org/os.img.xz', sha256: sha, targets, verify: true }), { url: 'https://example.org/os.img.xz', sha256: sha, targets, verify: true });
  accepted('startFlashUrl', { url: 'http://127.0.0.1:8080/os.img.gz', targets, verify: false });
  assert.match(rejected('startFlashUrl', { url: 'file:///etc/passwd', targets, verify: true }), /http\(s\) address/);
  assert.match(rejected('startFlashUrl', { url: 'https://example.org/a b.img', targets, verify: true }), /without spaces/);
  assert.match(rejected('startFlashUrl', { url: 'https://example.org/os.img', sha256: 'abc', targets, verify: true }), /at least 64/);
  assert.match(rejected('startFlashUrl', { url: 'https://example.org/os.img', sha256: 'g'.repeat(64), targets, verify: true }), /64 hexadecimal/);
  assert.match(rejected('startFlashUrl', { url: 'https://example.org/' + 'a'.repeat(5000), targets, verify: true }), /too long/);
  accepted('startFlashOs', { entryId: 'e12', targets, verify: true });
  assert.match(rejected('startFlashOs', { entryId: '../e1', targets, verify: true }), /not a catalogue entry id/);
  assert.deepEqual(accepted('loadCatalogue', {}), {});
  accepted('loadCatalogue', { source: 'https://example.org/os_list.json', folder: ['Raspberry Pi OS (other)'], search: 'lite 64' });
  assert.match(rejected('loadCatalogue', { folder: Array.from({ length: 9 }, () => 'x') }), /too many entries/);
  assert.match(rejected('loadCatalogue', { folder: [''] }), /must not be empty/);
});
