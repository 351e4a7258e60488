import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FolderKeys, encryptionProblem, rewrapFolderKey, type FolderEncryption } from './folder-crypto';

/**
 * The keys a restore's decoding threads get (FolderKeys.pieceKeyBytes, then
 * forPieces on the thread): they must name and open pieces exactly as the
 * folder's own keys do, and nothing more. The restore through those threads
 * is tested end to end in electron/cli/backup/backup-folder-encrypt.test.ts.
 */

test("keys made for a restore's threads name, seal and open pieces as the folder's keys do", () => {
  const { keys } = FolderKeys.create('correct horse battery staple');
  // What workerData does to them: a structured clone.
  const thread = FolderKeys.forPieces(structuredClone(keys.pieceKeyBytes()));
  const content = Buffer.from('the content of one piece, as a drive held it');
  const name = keys.pieceName(content);
  assert.equal(thread.pieceName(content), name);
  const frame = Buffer.from('stands in for a zstd frame');
  assert.deepEqual(thread.openPiece(name, content.length, keys.sealPiece(name, content.length, frame)), { frame });
  assert.deepEqual(keys.openPiece(name, content.length, thread.sealPiece(name, content.length, frame)), { frame });
  // Still bound to the name and length: a piece cannot stand in for another.
  assert.deepEqual(thread.openPiece(name, content.length + 1, keys.sealPiece(name, content.length, frame)), { problem: 'fails authentication (altered or damaged)' });
  // Other keys (another folder, another passphrase) name and open nothing alike.
  const other = FolderKeys.forPieces(FolderKeys.create('correct horse battery staple').keys.pieceKeyBytes());
  assert.notEqual(other.pieceName(content), name);
  assert.ok('problem' in other.openPiece(name, content.length, keys.sealPiece(name, content.length, frame)));
});

test("keys made for a restore's threads carry no index key: they refuse to open or seal an index", () => {
  const { keys } = FolderKeys.create('correct horse battery staple');
  const thread = FolderKeys.forPieces(keys.pieceKeyBytes());
  const sealed = keys.sealIndex('20261207T000000Z-abcdef', Buffer.from('{}'));
  assert.throws(() => thread.openIndex('20261207T000000Z-abcdef', sealed), /reading pieces only/);
  assert.throws(() => thread.sealNames('20261207T000000Z-abcdef', Buffer.alloc(32)), /reading pieces only/);
  const bytes = keys.pieceKeyBytes();
  assert.deepEqual(Object.keys(bytes).sort(), ['name', 'piece']);
  assert.throws(() => FolderKeys.forPieces({ piece: bytes.piece.subarray(1), name: bytes.name }), /32 bytes/);
});

test('a changed passphrase opens the same keys; the old one no longer opens the folder; it can be changed again', () => {
  const { record, keys } = FolderKeys.create('the first passphrase');
  const content = Buffer.from('a piece stored before the change');
  const second = rewrapFolderKey('the first passphrase', 'the second passphrase', record, 'F');
  assert.equal(encryptionProblem(second), null);
  assert.equal(second.keyCheck, record.keyCheck, 'the key check (under the same master key) is kept');
  assert.notEqual(second.kdf.salt, record.kdf.salt, 'the new passphrase gets a fresh salt');
  const reopened = FolderKeys.unlock('the second passphrase', second, 'F');
  assert.equal(reopened.pieceName(content), keys.pieceName(content), 'the same name key: every stored piece is still found');
  const frame = Buffer.from('stands in for a zstd frame');
  assert.deepEqual(reopened.openPiece('n', 5, keys.sealPiece('n', 5, frame)), { frame });
  assert.equal(reopened.openIndex('20261207T000000Z-abcdef', keys.sealIndex('20261207T000000Z-abcdef', Buffer.from('{}')))?.toString(), '{}');
  assert.throws(() => FolderKeys.unlock('the first passphrase', second, 'F'), (e: Error & { code?: string }) => e.code === 'E_WRONG_PASSPHRASE');
  assert.throws(() => rewrapFolderKey('the first passphrase', 'x', second, 'F'), (e: Error & { code?: string }) => e.code === 'E_WRONG_PASSPHRASE');
  const third = rewrapFolderKey('the second passphrase', 'the third passphrase', second, 'F');
  assert.equal(FolderKeys.unlock('the third passphrase', third, 'F').pieceName(content), keys.pieceName(content));
  assert.throws(() => FolderKeys.unlock('the second passphrase', third, 'F'), (e: Error & { code?: string }) => e.code === 'E_WRONG_PASSPHRASE');
});

test('a wrapped key that was altered or swapped for another folder\'s is refused as a wrong passphrase; a malformed one is not a usable record', () => {
  const { record } = FolderKeys.create('pass one');
  const changed = rewrapFolderKey('pass one', 'pass two', record, 'F');
  const raw = Buffer.from(changed.wrappedKey as string, 'base64');
  raw[20] = (raw[20] as number) ^ 0x01;
  const altered: FolderEncryption = { ...changed, wrappedKey: raw.toString('base64') };
  assert.throws(() => FolderKeys.unlock('pass two', altered, 'F'), (e: Error & { code?: string }) => e.code === 'E_WRONG_PASSPHRASE');
  // Another folder's master key, sealed under the same passphrase and salt: it opens, but the key check does not.
  const other = rewrapFolderKey('pass one', 'pass two', FolderKeys.create('pass one').record, 'G');
  assert.throws(() => FolderKeys.unlock('pass two', { ...changed, kdf: other.kdf, wrappedKey: other.wrappedKey } as FolderEncryption, 'F'), (e: Error & { code?: string }) => e.code === 'E_WRONG_PASSPHRASE');
  assert.match(encryptionProblem({ ...changed, wrappedKey: raw.subarray(1).toString('base64') }) ?? '', /wrapped key is malformed/);
  assert.match(encryptionProblem({ ...changed, wrappedKey: 42 }) ?? '', /wrapped key is malformed/);
});
