// The hello plugin through a real Sluice gateway: loaded by path as a config would load it, in front of an echo
// upstream (sluice/plugin/testing). Run with `npm test` in this directory after `npm install`.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startPluginGateway, type PluginTestGateway } from 'sluice/plugin/testing';

const plugin = new URL('../index.ts', import.meta.url);
const gateways: PluginTestGateway[] = [];
after(() => Promise.all(gateways.map((g) => g.close())));

async function gateway(config?: unknown): Promise<PluginTestGateway> {
  const gw = await startPluginGateway({ path: plugin, config });
  gateways.push(gw);
  return gw;
}

test('answers its own path without calling the upstream', async () => {
  const gw = await gateway({ greeting: 'Hi' });
  const res = await fetch(`${gw.url}/hello?name=Ada`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { message: 'Hi, Ada!' });
  assert.equal(res.headers.get('x-hello'), 'Hi');
  assert.equal(gw.received.length, 0);
});

test('greets every other request on its way upstream', async () => {
  const gw = await gateway();
  const res = await fetch(`${gw.url}/users`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-hello'), 'Hello');
  assert.equal(gw.received[0]?.headers['x-greeting'], 'Hello, world!');
});

test('a config that does not fit the schema is refused, with the path of the mistake', async () => {
  await assert.rejects(gateway({ greeting: 42 }), /config\.greeting: expected a string, got a number/);
  await assert.rejects(gateway({ answer: 'hello' }), /config\.answer: must start with "\/"/);
});
