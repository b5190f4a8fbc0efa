import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdminRouter } from './router.ts';

const h = () => {};

test('exact paths, parameters decoded, static segments before parameters', () => {
  const router = new AdminRouter({
    '/api/v1/config': { GET: h },
    '/api/v1/config/versions/:n': { GET: h },
    '/api/v1/:kind/special': { GET: h },
    '/api/v1/routes/special': { GET: h },
  });
  assert.deepEqual(router.match('/api/v1/config')?.params, {});
  assert.deepEqual(router.match('/api/v1/config/versions/12')?.params, { n: '12' });
  assert.equal(router.match('/api/v1/routes/special')?.pattern, '/api/v1/routes/special');
  assert.deepEqual(router.match('/api/v1/things/special')?.params, { kind: 'things' });
  assert.deepEqual(router.match('/api/v1/config/versions/a%20b')?.params, { n: 'a b' });
});

test('no match: other lengths, empty or undecodable parameters', () => {
  const router = new AdminRouter({ '/api/v1/routes/:name': { GET: h } });
  assert.equal(router.match('/api/v1/routes'), undefined);
  assert.equal(router.match('/api/v1/routes/'), undefined);
  assert.equal(router.match('/api/v1/routes/a/b'), undefined);
  assert.equal(router.match('/api/v1/routes/%E0%A4%A'), undefined);
});
