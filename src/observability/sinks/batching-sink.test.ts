// A bytes-mode sink reuses its chunks once everything in them is written, and never while a batch that holds
// part of one is still on its way: lines written during a slow send come out whole and in order.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { BatchingSink, type Batch } from './batching-sink.ts';

/** Keeps what each batch held when its send finished, and which memory (ArrayBuffers) the batches used. */
class SlowSink extends BatchingSink {
  readonly written: string[] = [];
  readonly memory = new Set<ArrayBufferLike>();

  constructor() {
    super('slow', { maxLines: 100_000, maxBytes: 64 * 1024 * 1024, maxBatch: 50, flushInterval: 5, maxRetries: 0, retryBackoff: 1 }, { count: () => undefined }, 'bytes');
  }

  protected async send({ bytes }: Batch): Promise<void> {
    const atStart = bytes.map((b) => b.toString());
    await sleep(2); // lines keep coming in meanwhile
    const atEnd = bytes.map((b) => b.toString());
    assert.deepEqual(atEnd, atStart, 'nothing of a batch is overwritten before its send finishes');
    for (const b of bytes) this.memory.add(b.buffer);
    this.written.push(...atEnd);
  }
}

/** Writes `count` JSON lines of ≈ `size` bytes, pausing `pauseMs` after every `burst`; returns what was written. */
async function writeLines(sink: SlowSink, count: number, size: number, burst: number, pauseMs: number): Promise<string> {
  let text = '';
  for (let i = 0; i < count; i++) {
    const line = `${JSON.stringify({ i, pad: 'x'.repeat(size + (i % 97)) })}\n`;
    text += line;
    sink.write(line);
    if (i % burst === burst - 1) await sleep(pauseMs);
  }
  return text;
}

test('chunks are reused after their lines are written, and lines written meanwhile come out whole and in order', async () => {
  const sink = new SlowSink();
  const text = await writeLines(sink, 3000, 900, 50, 3); // a little slower than the sink sends: its backlog stays small
  await sink.flush();
  assert.equal(sink.written.join(''), text);
  // ≈ 2.9 MB went through 64 KiB chunks: 45 or more without reuse.
  assert.ok(sink.memory.size <= 10, `batches used ${sink.memory.size} chunks`);
  await sink.close();
});

test('a chunk is not reused while a batch holding part of it is being sent, however fast lines come', async () => {
  const sink = new SlowSink();
  const text = await writeLines(sink, 2000, 700, 200, 1); // bursts of ≈ 3 chunks while a send is under way
  await sink.flush();
  assert.equal(sink.written.join(''), text);
  await sink.close();
});
