// The upstream header view over the flat list undici sends: Host keeps its slot, the trace-header slots the exchange
// rewrites per attempt follows deletions, repeated fields read joined, and CR/LF cannot be smuggled in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamHeaderList } from './upstream-headers.ts';

function listOf(headers: string[], traceSlots: number[] = []) {
  const owner = { headers, traceSlots };
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

test('deleting fields before the trace headers keeps their indexes right; deleting one forgets it', () => {
  const { owner, view } = listOf(['host', 'h', 'x-a', '1', 'traceparent', '00-abc', 'x-b', '2', 'b3', 'abc-1'], [5, 9]);
  view.delete('x-a');
  assert.deepEqual(owner.traceSlots, [3, 7]);
  assert.equal(owner.headers[owner.traceSlots[0]!], '00-abc');
  assert.equal(owner.headers[owner.traceSlots[1]!], 'abc-1');
  view.delete('traceparent');
  assert.deepEqual(owner.traceSlots, [-1, 5]);
  assert.equal(owner.headers[5], 'abc-1');
});

test('values with CR, LF or NUL and invalid names are refused', () => {
  const { view } = listOf(['host', 'h']);
  assert.throws(() => view.set('x-a', 'v\r\nx-injected: 1'), TypeError);
  assert.throws(() => view.add('bad name', 'v'), TypeError);
});
