import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import { test } from 'node:test';
import { cachedDerivation, forgetDerivedKeys } from './derived-keys';

/** A derive function that counts its calls and returns a fresh random key each time. */
function counting(): { derive: () => Buffer; calls: () => number } {
  let n = 0;
  return { derive: () => (n++, crypto.randomBytes(32)), calls: () => n };
}

test('the same passphrase and KDF record derive once; another passphrase or record derives again', () => {
  forgetDerivedKeys();
  const c = counting();
  const a = cachedDerivation('correct horse', '[131072,8,1,"c2FsdA=="]', c.derive);
  const again = cachedDerivation('correct horse', '[131072,8,1,"c2FsdA=="]', c.derive);
  assert.equal(c.calls(), 1);
  assert.ok(a.equals(again));
  const other = cachedDerivation('correct horsf', '[131072,8,1,"c2FsdA=="]', c.derive);
  const otherSalt = cachedDerivation('correct horse', '[131072,8,1,"c2FsdB=="]', c.derive);
  assert.equal(c.calls(), 3);
  assert.ok(!other.equals(a) && !otherSalt.equals(a));
});

test('at most four keys are kept, the oldest forgotten first', () => {
  forgetDerivedKeys();
  const c = counting();
  for (let i = 0; i < 5; i++) cachedDerivation(`pass ${i}`, 'r', c.derive);
  assert.equal(c.calls(), 5);
  cachedDerivation('pass 4', 'r', c.derive);
  cachedDerivation('pass 1', 'r', c.derive);
  assert.equal(c.calls(), 5, 'the four newest are still known');
  cachedDerivation('pass 0', 'r', c.derive);
  assert.equal(c.calls(), 6, 'the oldest was forgotten');
  forgetDerivedKeys();
  cachedDerivation('pass 4', 'r', c.derive);
  assert.equal(c.calls(), 7);
});
