import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentLength, parseContentRange, validatorOf, type BodyResponse } from './response-headers';

function response(headers: BodyResponse['headers']): BodyResponse {
  return { headers, complete: false, on: () => undefined, pause: () => undefined, resume: () => undefined };
}

test('Content-Range: a well-formed range is read; one that is malformed, backwards, past its total or beyond exact integers is refused', () => {
  assert.deepEqual(parseContentRange('bytes 100-199/1000'), { start: 100, end: 199, total: 1000 });
  assert.deepEqual(parseContentRange(' bytes 0-0/* '), { start: 0, end: 0, total: null });
  for (const bad of [undefined, '', 'bytes */1000', 'bytes 200-100/1000', 'bytes 0-1000/1000', 'items 0-1/2', 'bytes -1-5/10', 'bytes 0-9007199254740993/*', 'bytes 0-1/2 extra']) {
    assert.equal(parseContentRange(bad), null, String(bad));
  }
});

test('Content-Length: whole decimal numbers only', () => {
  assert.equal(contentLength(response({ 'content-length': '1234' })), 1234);
  assert.equal(contentLength(response({})), null);
  for (const bad of ['-1', '1e3', '0x10', '12 34', '99999999999999999999']) assert.equal(contentLength(response({ 'content-length': bad })), null, bad);
});

test('the validator sent back in If-Range: a strong ETag, else Last-Modified (never a weak ETag)', () => {
  assert.equal(validatorOf(response({ etag: '"abc"', 'last-modified': 'Mon, 07 Dec 2026 00:00:00 GMT' })), '"abc"');
  assert.equal(validatorOf(response({ etag: 'W/"abc"', 'last-modified': 'Mon, 07 Dec 2026 00:00:00 GMT' })), 'Mon, 07 Dec 2026 00:00:00 GMT');
  assert.equal(validatorOf(response({ etag: 'W/"abc"' })), null);
});
