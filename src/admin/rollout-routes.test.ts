import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { AdminControl } from './control.ts';
import { createAdminServer } from './server.ts';

test('without etcd every rollout endpoint answers 409 rollout_needs_etcd, pointing at docs/distributed.md', async () => {
  const control = { audit: async () => {}, rollouts: () => undefined } as unknown as AdminControl;
  const server = createAdminServer(control).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [method, path] of [['GET', '/api/v1/instances'], ['POST', '/api/v1/rollouts'], ['GET', '/api/v1/rollouts/current'], ['POST', '/api/v1/rollouts/current/abort']] as const) {
      const res = await fetch(base + path, { method });
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 409, path);
      assert.equal(body.error.code, 'rollout_needs_etcd');
      assert.match(body.error.message, /etcd.*docs\/distributed\.md/);
    }
  } finally {
    server.close();
  }
});
