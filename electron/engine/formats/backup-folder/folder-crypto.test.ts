import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FolderKeys } from './folder-crypto';

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
