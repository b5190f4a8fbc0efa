// The jwt plugin's handle() on its own: a token it verified recently passes synchronously (no promise, so a chain of
// jwt and synchronous plugins stays synchronous), while a new token is verified asynchronously; either way the
// outcome is the same. The attack cases are in test/plugins-auth.test.ts, through a real gateway.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { jwtPluginSchema } from '../../../config/auth-plugins-schema.ts';
import type { PluginContext } from '../../api.ts';
import { NO_CONSUMERS } from '../../consumers.ts';
import { PluginMetricsRegistry } from '../../metrics.ts';
import { PolicyRegistry } from '../../../snapshot/policy-registry.ts';
import { jwt } from './index.ts';

const SECRET = 'a-shared-secret-long-enough-for-hs256';

async function instance(settings: Record<string, unknown> = {}) {
  const log = pino({ level: 'silent' });
  const env = {
    name: 'jwt',
    scope: { kind: 'route', name: 'r' } as const,
    log,
    metrics: new PluginMetricsRegistry(),
    services: { policies: new PolicyRegistry(), gatewayMetrics: undefined, server: undefined as never },
  };
  const plugin = jwt.create(jwtPluginSchema.parse({ secret: SECRET, ...settings }), env);
  await plugin.init?.();
  return plugin;
}

/** Just what the plugin reads and writes on the way in. */
function contextWith(authorization: string | undefined) {
  const state = new Map<string, unknown>();
  const failures: string[] = [];
  const ctx = {
    request: { headers: authorization === undefined ? {} : { authorization } },
    route: 'r',
    requestId: 'id',
    consumers: NO_CONSUMERS,
    consumer: undefined,
    state,
    fail: (code: string) => void failures.push(code),
  } as unknown as PluginContext;
  return { ctx, state, failures };
}

const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

test('a recently verified token passes synchronously; a new one is verified asynchronously first', async () => {
  const plugin = await instance();
  const bearer = `Bearer ${await token({ sub: 'alice' })}`;
  let passed = 0;
  const next = () => void passed++;

  const first = contextWith(bearer);
  const verifying = plugin.handle!(first.ctx, next);
  assert.ok(verifying instanceof Promise, 'a token not seen before is verified (asynchronously)');
  await verifying;
  assert.equal(passed, 1);

  const again = contextWith(bearer);
  const result = plugin.handle!(again.ctx, next);
  assert.equal(result, undefined, 'no promise for a remembered token');
  assert.equal(passed, 2, 'next() ran before handle() returned');
  assert.deepEqual(again.state.get('jwt'), first.state.get('jwt'));
  assert.deepEqual(again.failures, []);
});

test('refusals are the same whether the token is new or remembered', async () => {
  const plugin = await instance({ claims: { role: 'admin' } });
  const bearer = `Bearer ${await token({ sub: 'bob', role: 'user' })}`;
  const next = () => assert.fail('a token without the required claim value must not pass');
  for (let i = 0; i < 2; i++) {
    const { ctx, failures } = contextWith(bearer);
    await plugin.handle!(ctx, next);
    assert.deepEqual(failures, ['unauthorized']);
  }
  const tampered = contextWith(`${bearer.slice(0, -2)}xx`);
  await plugin.handle!(tampered.ctx, next);
  assert.deepEqual(tampered.failures, ['unauthorized']);
  const missing = contextWith(undefined);
  assert.equal(plugin.handle!(missing.ctx, next), undefined);
  assert.deepEqual(missing.failures, ['unauthorized']);
});
