// B3 headers (https://github.com/openzipkin/b3-propagation): what is accepted, what is refused, what Sluice sends.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { b3TraceId, formatB3Single, parseB3Multi, parseB3Single } from './b3.ts';

const TRACE_128 = '80f198ee56343ba864fe8b2a57d3eff7';
const TRACE_64 = '64fe8b2a57d3eff7';
const SPAN = 'e457b5a2e4d86bd1';
const PARENT = '05e3ac9a4f6e3b90';

describe('b3 single header', () => {
  const valid: Array<{ desc: string; value: string; traceId: string | undefined; parentSpanId: string | undefined; sampled: boolean | undefined }> = [
    { desc: 'the full form', value: `${TRACE_128}-${SPAN}-1-${PARENT}`, traceId: TRACE_128, parentSpanId: SPAN, sampled: true },
    { desc: 'no parent', value: `${TRACE_128}-${SPAN}-0`, traceId: TRACE_128, parentSpanId: SPAN, sampled: false },
    { desc: 'debug, which implies sampled', value: `${TRACE_128}-${SPAN}-d`, traceId: TRACE_128, parentSpanId: SPAN, sampled: true },
    { desc: 'no sampling state: the receiver decides', value: `${TRACE_128}-${SPAN}`, traceId: TRACE_128, parentSpanId: SPAN, sampled: undefined },
    { desc: 'a 64-bit trace id, padded to 128 bits', value: `${TRACE_64}-${SPAN}-1`, traceId: `${'0'.repeat(16)}${TRACE_64}`, parentSpanId: SPAN, sampled: true },
    { desc: 'a sampling decision alone (0)', value: '0', traceId: undefined, parentSpanId: undefined, sampled: false },
    { desc: 'a sampling decision alone (d)', value: 'd', traceId: undefined, parentSpanId: undefined, sampled: true },
  ];
  for (const { desc, value, traceId, parentSpanId, sampled } of valid) {
    it(`accepts ${desc}`, () => {
      assert.deepEqual(parseB3Single(value), { traceId, parentSpanId, sampled, w3c: false });
    });
  }

  const invalid: Array<{ desc: string; value: string | string[] | undefined }> = [
    { desc: 'no header', value: undefined },
    { desc: 'two headers', value: [`${TRACE_128}-${SPAN}-1`, `${TRACE_128}-${SPAN}-1`] },
    { desc: 'an empty value', value: '' },
    { desc: 'an unknown sampling state', value: `${TRACE_128}-${SPAN}-2` },
    { desc: 'an unknown sampling decision alone', value: 'true' },
    { desc: 'an upper-case trace id', value: `${TRACE_128.toUpperCase()}-${SPAN}-1` },
    { desc: 'a trace id of 20 characters', value: `${TRACE_128.slice(0, 20)}-${SPAN}-1` },
    { desc: 'an all-zero trace id', value: `${'0'.repeat(32)}-${SPAN}-1` },
    { desc: 'an all-zero span id', value: `${TRACE_128}-${'0'.repeat(16)}-1` },
    { desc: 'a short span id', value: `${TRACE_128}-${SPAN.slice(1)}-1` },
    { desc: 'a malformed parent id', value: `${TRACE_128}-${SPAN}-1-xyz` },
    { desc: 'a fifth field', value: `${TRACE_128}-${SPAN}-1-${PARENT}-x` },
  ];
  for (const { desc, value } of invalid) {
    it(`rejects ${desc}`, () => {
      assert.equal(parseB3Single(value), undefined);
    });
  }

  it('sends trace id, span id and decision; a 64-bit trace id goes back out in 16 characters', () => {
    assert.equal(formatB3Single(TRACE_128, SPAN, true), `${TRACE_128}-${SPAN}-1`);
    assert.equal(formatB3Single(`${'0'.repeat(16)}${TRACE_64}`, SPAN, false), `${TRACE_64}-${SPAN}-0`);
    assert.equal(b3TraceId(TRACE_128), TRACE_128);
  });
});

describe('X-B3-* headers', () => {
  it('reads trace id, span id and the sampled flag', () => {
    assert.deepEqual(
      parseB3Multi({ 'x-b3-traceid': TRACE_128, 'x-b3-spanid': SPAN, 'x-b3-parentspanid': PARENT, 'x-b3-sampled': '1' }),
      { traceId: TRACE_128, parentSpanId: SPAN, sampled: true, w3c: false },
    );
  });
  it('accepts the true/false older tracers send, and reads X-B3-Flags: 1 (debug) as sampled', () => {
    assert.equal(parseB3Multi({ 'x-b3-traceid': TRACE_64, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'false' })?.sampled, false);
    assert.equal(parseB3Multi({ 'x-b3-traceid': TRACE_64, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'true' })?.sampled, true);
    assert.equal(parseB3Multi({ 'x-b3-traceid': TRACE_64, 'x-b3-spanid': SPAN, 'x-b3-flags': '1' })?.sampled, true);
  });
  it('leaves the decision to Sluice when no sampled flag came', () => {
    assert.deepEqual(parseB3Multi({ 'x-b3-traceid': TRACE_64, 'x-b3-spanid': SPAN }), {
      traceId: `${'0'.repeat(16)}${TRACE_64}`, parentSpanId: SPAN, sampled: undefined, w3c: false,
    });
  });
  it('takes a sampling decision sent without ids', () => {
    assert.deepEqual(parseB3Multi({ 'x-b3-sampled': '0' }), { traceId: undefined, parentSpanId: undefined, sampled: false, w3c: false });
  });
  it('rejects a span id without a trace id, a bad id, and an unknown sampled value', () => {
    assert.equal(parseB3Multi({ 'x-b3-spanid': SPAN, 'x-b3-sampled': '1' }), undefined);
    assert.equal(parseB3Multi({ 'x-b3-traceid': TRACE_128, 'x-b3-spanid': 'nothex!!nothex!!' }), undefined);
    assert.equal(parseB3Multi({ 'x-b3-traceid': TRACE_128, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'yes' }), undefined);
    assert.equal(parseB3Multi({}), undefined);
  });
});
