// What the providers make of what they read: registry values and EndpointSlices, case by case.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRegistration } from './etcd-registry.ts';
import { targetsOfSlices, type EndpointSliceView } from './kubernetes.ts';

test('a registry value is {url, weight}; the url is reduced to its origin, the weight clamped; anything else is not a registration', () => {
  const cases: Array<{ desc: string; value: string; want: ReturnType<typeof parseRegistration> }> = [
    { desc: 'url and weight', value: '{"url":"http://10.0.0.5:8080","weight":3}', want: { url: 'http://10.0.0.5:8080', weight: 3 } },
    { desc: 'weight defaults to 1', value: '{"url":"https://api.internal:8443/"}', want: { url: 'https://api.internal:8443', weight: 1 } },
    { desc: 'weight clamped', value: '{"url":"http://a:1","weight":0}', want: { url: 'http://a:1', weight: 1 } },
    { desc: 'a path is not an origin', value: '{"url":"http://a:1/x"}', want: undefined },
    { desc: 'not JSON', value: 'http://a:1', want: undefined },
    { desc: 'no url', value: '{"weight":2}', want: undefined },
  ];
  for (const c of cases) assert.deepEqual(parseRegistration(c.value), c.want, c.desc);
});

test('EndpointSlices: ready (or unset) endpoints on the chosen port, one target per address, sorted and deduplicated', () => {
  const slices: EndpointSliceView[] = [
    {
      ports: [{ name: 'metrics', port: 9100 }, { name: 'http', port: 8080 }],
      endpoints: [
        { addresses: ['10.0.0.2'], conditions: { ready: true } },
        { addresses: ['10.0.0.1'] },
        { addresses: ['10.0.0.3'], conditions: { ready: false } },
      ],
    },
    { ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['10.0.0.1', 'fd00::7'] }] },
    { ports: [{ name: 'grpc', port: 9000 }], endpoints: [{ addresses: ['10.0.0.9'] }] },
    { ports: null, endpoints: null },
  ];
  assert.deepEqual(targetsOfSlices(slices, { port: 'http', scheme: 'http' }).map((t) => t.url), ['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://[fd00::7]:8080']);
  assert.deepEqual(targetsOfSlices(slices, { port: 9000, scheme: 'https' }).map((t) => t.url), ['https://10.0.0.9:9000']);
  // No port named: each slice's first.
  assert.deepEqual(targetsOfSlices(slices.slice(0, 1), { port: undefined, scheme: 'http' }).map((t) => t.url), ['http://10.0.0.1:9100', 'http://10.0.0.2:9100']);
});
