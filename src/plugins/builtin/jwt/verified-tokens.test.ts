// The jwt plugin's cache of verified tokens: what it hands back, for how long, and that only the exact token does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VerifiedTokens } from './verified-tokens.ts';

/** A token-shaped string: header.payload.signature, long like an RS256 one; signatures differ with the payload. */
function token(payload: string, signature = 's'.repeat(310) + payload.slice(-32).padStart(32, '0')): string {
  return `eyJhbGciOiJSUzI1NiJ9.${payload}.${signature}`;
}

const NOW = 1_700_000_000_000;

test('a remembered token is found by its exact text until the ttl', () => {
  const cache = new VerifiedTokens(10, 60_000);
  const t = token('eyJzdWIiOiJhbGljZSJ9');
  cache.remember(t, { sub: 'alice' }, NOW, 0, undefined);
  // A new string with the same text, as each request carries it.
  assert.deepEqual(cache.get(t.split('.').join('.'), NOW + 59_999), { sub: 'alice' });
  assert.equal(cache.get(t, NOW + 60_000), undefined);
  assert.equal(cache.get(t, NOW), undefined, 'an expired entry is dropped');
});

test('never past exp (with the clock skew) nor iat + maxAge', () => {
  const cache = new VerifiedTokens(10, 60_000);
  const exp = token('exp');
  cache.remember(exp, { exp: (NOW + 10_000) / 1000 }, NOW, 2_000, undefined);
  assert.ok(cache.get(exp, NOW + 11_999));
  assert.equal(cache.get(exp, NOW + 12_000), undefined);
  const aged = token('aged');
  cache.remember(aged, { iat: NOW / 1000 }, NOW, 0, 5_000);
  assert.ok(cache.get(aged, NOW + 4_999));
  assert.equal(cache.get(aged, NOW + 5_000), undefined);
});

test('a different token with the same signature ending is not taken for a remembered one', () => {
  const cache = new VerifiedTokens(10, 60_000);
  const signature = 'x'.repeat(300) + 'same-ending-0123456789abcdefghij';
  const good = token('eyJzdWIiOiJhbGljZSJ9', signature);
  const forged = token('eyJzdWIiOiJhZG1pbiJ9', signature);
  cache.remember(good, { sub: 'alice' }, NOW, 0, undefined);
  assert.equal(cache.get(forged, NOW), undefined);
  assert.deepEqual(cache.get(good, NOW), { sub: 'alice' }, 'the miss leaves the remembered token in place');
});

test('short tokens, a bound on entries (oldest first), and tokens: 0 remembering nothing', () => {
  const cache = new VerifiedTokens(2, 60_000);
  cache.remember('a.b.c', { n: 1 }, NOW, 0, undefined);
  cache.remember(token('2'), { n: 2 }, NOW, 0, undefined);
  cache.remember(token('3'), { n: 3 }, NOW, 0, undefined);
  assert.equal(cache.get('a.b.c', NOW), undefined);
  assert.deepEqual(cache.get(token('2'), NOW), { n: 2 });
  assert.deepEqual(cache.get(token('3'), NOW), { n: 3 });
  const none = new VerifiedTokens(0, 60_000);
  assert.ok(Object.isFrozen(none.remember(token('4'), { n: 4 }, NOW, 0, undefined)));
  assert.equal(none.get(token('4'), NOW), undefined);
});
