import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { isIdempotentMethod, prepareBodyForRetry } from './retry-replay.ts';

describe('isIdempotentMethod', () => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']) test(`${m} is`, () => assert.equal(isIdempotentMethod(m), true));
  for (const m of ['POST', 'PATCH', 'CONNECT', 'get']) test(`${m} is not`, () => assert.equal(isIdempotentMethod(m), false));
});

describe('prepareBodyForRetry', () => {
  test('a body within the limit is buffered and replayable', async () => {
    const prepared = await prepareBodyForRetry(Readable.from([Buffer.from('hello '), Buffer.from('world')]), 64);
    assert.equal(prepared.replayable, true);
    assert.equal(prepared.body.toString(), 'hello world');
  });

  test('a body over the limit streams on whole, in order, and is not replayable', async () => {
    const parts = Array.from({ length: 100 }, (_, i) => Buffer.from(`${i};`));
    const prepared = await prepareBodyForRetry(Readable.from(parts), 20);
    assert.equal(prepared.replayable, false);
    assert.equal(await text(prepared.body as Readable), parts.join(''));
  });

  test('a declared Content-Length over the limit is not read at all', async () => {
    const source = Readable.from([Buffer.from('x')]);
    const prepared = await prepareBodyForRetry(source, 10, 1000);
    assert.equal(prepared.replayable, false);
    assert.equal(prepared.body, source);
  });

  test('limit 0 never buffers', async () => {
    const source = Readable.from([Buffer.from('x')]);
    assert.equal((await prepareBodyForRetry(source, 0)).replayable, false);
  });

  test('a failing body stream rejects', async () => {
    const source = new Readable({ read() { this.destroy(new Error('client went away')); } });
    await assert.rejects(prepareBodyForRetry(source, 100), /client went away/);
  });
});
