// Lines to a Node stream — process.stdout by default. A batch is one corked write; the next waits for its
// callback, so a slow reader (a full pipe) makes lines pile up in the bounded buffer and then drop, never in memory.
import type { Writable } from 'node:stream';
import type { SinkBufferSettings } from '../../config/observability-schema.ts';
import { BatchingSink, type Batch, type SinkHooks } from './batching-sink.ts';

export class StreamSink extends BatchingSink {
  readonly #stream: Writable;

  constructor(name: string, stream: Writable, buffer: SinkBufferSettings, hooks: SinkHooks) {
    super(name, buffer, hooks, 'bytes');
    this.#stream = stream;
  }

  protected send({ bytes }: Batch): Promise<void> {
    const stream = this.#stream;
    if (stream.destroyed || !stream.writable) return Promise.reject(new Error('the stream is closed'));
    return new Promise((resolve, reject) => {
      // A stream destroyed mid-write may never call back: its close settles the batch instead.
      const onClose = (): void => reject(new Error('the stream closed before the write finished'));
      stream.once('close', onClose);
      const done = (err?: Error | null): void => {
        stream.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      stream.cork();
      for (let i = 0; i < bytes.length - 1; i++) stream.write(bytes[i]);
      stream.write(bytes[bytes.length - 1], done);
      stream.uncork();
    });
  }
}
