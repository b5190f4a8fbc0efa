// The upstream header view over the flat list undici sends: Host keeps its slot, the traceparent slot the exchange
// rewrites per attempt follows deletions, repeated fields read joined, and CR/LF cannot be smuggled in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamHeaderList } from './upstream-headers.ts';

function listOf(headers: string[], traceparentAt = -1) {
  const owner = { headers, traceparentAt };
  return { owner, view: new UpstreamHeaderList(owner) };
}

test('get joins repeated fields; set replaces them all; add appends; names are case-insensitive', () => {
  const { owner, view } = listOf(['host', 'a.test', 'Accept', 'text/html', 'accept', 'application/json']);
  assert.equal(view.get('ACCEPT'), 'text/html, application/json');
  view.set('Accept', '*/*');
  assert.deepEqual(owner.headers, ['host', 'a.test', 'Accept', '*/*']);
  view.add('x-a', '1');
  view.add('x-a', '2');
  assert.equal(view.get('x-a'), '1, 2');
  assert.equal(view.has('x-b'), false);
});

test('Host stays in its first slot: set writes it there, delete leaves it', () => {
  const { owner, view } = listOf(['host', 'a.test', 'x', '1']);
  view.set('Host', 'b.test');
  view.delete('host');
  assert.deepEqual(owner.headers, ['host', 'b.test', 'x', '1']);
});

test('deleting fields before the traceparent keeps its index right; deleting it forgets it', () => {
  const { owner, view } = listOf(['host', 'h', 'x-a', '1', 'x-b', '2', 'traceparent', '00-abc'], 7);
  view.delete('x-a');
  assert.equal(owner.traceparentAt, 5);
  assert.equal(owner.headers[owner.traceparentAt], '00-abc');
  view.delete('traceparent');
  assert.equal(owner.traceparentAt, -1);
});

test('values with CR, LF or NUL and invalid names are refused', () => {
  const { view } = listOf(['host', 'h']);
  assert.throws(() => view.set('x-a', 'v\r\nx-injected: 1'), TypeError);
  assert.throws(() => view.add('bad name', 'v'), TypeError);
});
