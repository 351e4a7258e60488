import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { count, literal, nullable, num, object, str, union, type Schema } from './schema';

function problem<T>(schema: Schema<T>, value: unknown): string {
  const r = schema(value, '$');
  assert.equal(r.ok, false, `expected ${String(value)} to be refused`);
  return r.ok ? '' : r.problem;
}

function value<T>(schema: Schema<T>, v: unknown): T {
  const r = schema(v, '$');
  assert.ok(r.ok, r.ok ? '' : r.problem);
  return r.value;
}

test('num refuses what is not a finite number in bounds, and says which rule', () => {
  const n = num({ min: -2, max: 10 });
  assert.equal(value(n, 2.5), 2.5);
  assert.equal(value(n, -2), -2);
  assert.match(problem(n, NaN), /\$ must be a finite number, not NaN/);
  assert.match(problem(n, Infinity), /finite number, not Infinity/);
  // JSON has no Infinity, but a big enough literal parses as one.
  assert.match(problem(n, JSON.parse('1e400')), /finite number/);
  assert.match(problem(n, 11), /at most 10, not 11/);
  assert.match(problem(n, -3), /at least -2, not -3/);
  assert.match(problem(n, '5'), /must be a number, not "5"/);
  assert.match(problem(n, null), /must be a number, not null/);
  assert.match(problem(num({ integer: true }), 1.5), /whole number, not 1.5/);
});

test('count takes whole numbers from 0 to 2^53 - 1, the largest exact integer', () => {
  const c = count();
  assert.equal(value(c, 0), 0);
  assert.equal(value(c, Number.MAX_SAFE_INTEGER), 2 ** 53 - 1);
  assert.match(problem(c, 2 ** 53), /at most 9007199254740991/);
  assert.match(problem(c, JSON.parse('1e300')), /at most/);
  assert.match(problem(c, -1), /at least 0/);
  assert.match(problem(c, 0.5), /whole number/);
});

test('literal and nullable', () => {
  assert.equal(value(literal('done'), 'done'), 'done');
  assert.match(problem(literal('done'), 'Done'), /must be "done", not "Done"/);
  assert.equal(value(literal(3), 3), 3);
  assert.match(problem(literal(3), '3'), /must be 3/);
  const maybe = nullable(count());
  assert.equal(value(maybe, null), null);
  assert.equal(value(maybe, 4), 4);
  assert.match(problem(maybe, undefined), /must be a number/);
});

test('union picks the variant by its tag, and the variant checks the whole object', () => {
  const shape = union('type', {
    circle: object({ type: literal('circle'), r: count() }),
    square: object({ type: literal('square'), side: count() }),
    // Two tags may share one schema.
    a: object({ type: str({ max: 1 }) }),
    b: object({ type: str({ max: 1 }) }),
  });
  const circle = { type: 'circle', r: 2 };
  assert.deepEqual(value(shape, circle), circle);
  assert.notEqual(value(shape, circle), circle, 'a fresh object');
  assert.deepEqual(value(shape, { type: 'b' }), { type: 'b' });
  assert.match(problem(shape, { type: 'triangle' }), /^\$\.type must be one of "circle", "square", "a", "b", not "triangle"$/);
  assert.match(problem(shape, { r: 2 }), /^\$\.type is missing$/);
  assert.match(problem(shape, { type: 7 }), /\$\.type must be one of .* not number 7/);
  assert.match(problem(shape, { type: 'circle', side: 2 }), /unknown field "side"/, 'a field of another variant');
  assert.match(problem(shape, { type: 'square' }), /\$\.side is missing/);
  assert.match(problem(shape, { type: 'circle', r: NaN }), /\$\.r must be a finite number/);
  assert.match(problem(shape, [circle]), /plain object, not a list/);
  assert.match(problem(shape, null), /plain object, not null/);
  // Inherited names are not tags.
  assert.match(problem(shape, { type: 'toString' }), /must be one of/);
  assert.match(problem(shape, JSON.parse('{"type":"__proto__"}')), /must be one of/);
});
