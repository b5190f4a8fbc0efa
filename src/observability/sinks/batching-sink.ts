// What every access-log sink — and the OTLP span exporter (span-export.ts) — shares: records wait in a bounded
// buffer and go out in batches, one batch in flight at a time; a full buffer drops the new record and counts it
// (bounded memory, and the request path never waits); a failed batch is retried with exponential backoff and
// jitter, then dropped and counted.
import type { SinkBufferSettings } from '../../config/observability-schema.ts';

export type SinkOutcome = 'written' | 'dropped' | 'failed';

export interface LogSink {
  readonly name: string;
  /** Never blocks and never throws: the line is buffered, or dropped and counted. */
  write(line: string): void;
  /** Sends everything buffered now; resolves when it is written or given up on. */
  flush(): Promise<void>;
  /** Flushes (within the time budget) and releases the destination; later writes are dropped and counted. */
  close(budgetMs?: number): Promise<void>;
}

export interface SinkHooks {
  count(outcome: SinkOutcome, lines: number): void;
  /** Told once when a batch is given up on, and once more when the sink works again. */
  onError?(error: Error | undefined): void;
}

/** Thrown by send() for a failure that a retry cannot fix (a 400 from Loki): the batch is dropped at once. */
export class PermanentSinkError extends Error {
  readonly code = 'permanent';
}

/**
 * One batch. Sinks that ship lines as text (Loki, OTLP) get `lines` with each line's `times` (Date.now()); sinks
 * that write bytes (file, stream) get `bytes`: each line was UTF-8 encoded into a shared chunk when it was
 * written, so a buffered line costs its bytes and no string survives to be promoted and collected later.
 */
export interface Batch {
  readonly count: number;
  readonly lines: string[];
  readonly times: number[];
  readonly bytes: Buffer[];
}

export type SinkMode = 'lines' | 'bytes';

const MAX_BACKOFF_MS = 30_000;
const CHUNK_SIZE = 64 * 1024;
/**
 * Emptied chunks kept for reuse (at most 2 MiB a sink). Each new chunk is 64 KiB of memory outside V8's heap, and
 * V8 answers a steady growth of such memory with full mark-compact collections: with OTLP export at 100% sampling
 * (≈ 12 MB of span bytes a second) one every 1.2 s, ≈ 4% of the gateway's CPU. A busy sink needs about two
 * batches' worth of chunks (the one being sent, the one being filled: ≈ 0.5–1 MB); kept, it allocates none.
 */
const SPARE_CHUNKS = 32;
const EMPTY: never[] = [];

export abstract class BatchingSink implements LogSink {
  readonly name: string;
  readonly #buffer: SinkBufferSettings;
  readonly #hooks: SinkHooks;
  readonly #bytesMode: boolean;
  // lines mode
  #lines: string[] = [];
  #times: number[] = [];
  // bytes mode: full slices and how many records each holds, and the chunk being filled
  #slices: Buffer[] = [];
  #sliceCounts: number[] = [];
  #chunk: Buffer | undefined;
  #chunkStart = 0;
  #chunkPos = 0;
  /** Records in the chunk since #chunkStart: a slice never holds more than maxBatch, so batches can be cut. */
  #chunkCount = 0;
  /** Slices not yet sent (or given up on), per chunk: a chunk is reused once none is left and it is no longer filled. */
  #unsent = new Map<ArrayBufferLike, number>();
  #spare: Buffer[] = [];
  #count = 0;
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;
  #failing = false;
  /** Lines of the batch being sent, and whether close() already counted them as failed (it gave up waiting). */
  #inFlight = 0;
  #abandoned = false;
  #wakeRetry: (() => void) | undefined;
  /** flush() waits: the running drain sends everything, not only full batches. */
  #flushing = false;

  constructor(name: string, buffer: SinkBufferSettings, hooks: SinkHooks, mode: SinkMode = 'lines') {
    this.name = name;
    this.#buffer = buffer;
    this.#hooks = hooks;
    this.#bytesMode = mode === 'bytes';
  }

  /** Writes or sends one batch. Rejects to have the batch retried. */
  protected abstract send(batch: Batch): Promise<void>;

  /** Releases the destination (file handle, agent). */
  protected async release(): Promise<void> {}

  /** Lines waiting (for tests and the admin status). */
  get buffered(): number {
    return this.#count;
  }

  write(line: string): void {
    if (!this.#admit(line.length)) return;
    if (!this.#bytesMode) {
      this.#lines.push(line);
      this.#times.push(Date.now());
      this.#added(line.length);
      return;
    }
    const chunk = this.#room(line.length * 3); // UTF-8 bytes per UTF-16 unit, at most
    const bytes = chunk.write(line, this.#chunkPos);
    this.#chunkPos += bytes;
    this.#written();
    this.#added(bytes);
  }

  /**
   * Bytes mode: appends one record that `fill` writes at `pos` in `buf` (at most `maxSize` bytes), returning
   * where it ended. The record is encoded now, so nothing of it but bytes waits for the batch.
   */
  writeRecord(maxSize: number, fill: (buf: Buffer, pos: number) => number): void {
    if (!this.#bytesMode) throw new Error(`${this.name}: writeRecord needs a sink in bytes mode`);
    if (!this.#admit(maxSize)) return;
    const chunk = this.#room(maxSize); // may start a new chunk: read the position after it
    const before = this.#chunkPos;
    this.#chunkPos = fill(chunk, before);
    this.#written();
    this.#added(this.#chunkPos - before);
  }

  /** Whether a record of `size` fits in the buffer; counts it as dropped when not. */
  #admit(size: number): boolean {
    const b = this.#buffer;
    if (this.#closed || this.#count >= b.maxLines || this.#size + size > b.maxBytes) {
      this.#hooks.count('dropped', 1);
      return false;
    }
    return true;
  }

  #added(size: number): void {
    const b = this.#buffer;
    this.#count++;
    this.#size += size;
    if (this.#draining !== undefined) return; // the running drain takes it
    if (this.#count >= b.maxBatch) void this.#drain();
    else this.#timer ??= setTimeout(this.#onTimer, b.flushInterval).unref();
  }

  /** The chunk to write the next record into, with at least `need` bytes free after #chunkPos. */
  #room(need: number): Buffer {
    let chunk = this.#chunk;
    if (chunk === undefined || chunk.length - this.#chunkPos < need) {
      this.#sealChunk();
      if (chunk !== undefined && !this.#unsent.has(chunk.buffer)) this.#keepSpare(chunk);
      // allocUnsafeSlow: a chunk of its own, never a slice of Buffer's shared pool — chunks are told apart by
      // their ArrayBuffer (#unsent), whatever Buffer.poolSize is set to.
      chunk = this.#chunk = (need <= CHUNK_SIZE ? this.#spare.pop() : undefined) ?? Buffer.allocUnsafeSlow(Math.max(CHUNK_SIZE, need));
      this.#chunkStart = this.#chunkPos = 0;
    }
    return chunk;
  }

  #written(): void {
    if (++this.#chunkCount >= this.#buffer.maxBatch) this.#sealChunk();
  }

  /** Moves the filled part of the current chunk to the slices; later records continue after it. */
  #sealChunk(): void {
    if (this.#chunk !== undefined && this.#chunkPos > this.#chunkStart) {
      const key = this.#chunk.buffer;
      this.#unsent.set(key, (this.#unsent.get(key) ?? 0) + 1);
      this.#slices.push(this.#chunk.subarray(this.#chunkStart, this.#chunkPos));
      this.#sliceCounts.push(this.#chunkCount);
      this.#chunkStart = this.#chunkPos;
    }
    this.#chunkCount = 0;
  }

  /** A batch's slices are done with (written, or given up on): chunks no slice needs any more are reused. */
  #release(slices: readonly Buffer[]): void {
    for (const slice of slices) {
      const key = slice.buffer;
      const left = (this.#unsent.get(key) ?? 1) - 1;
      if (left > 0) {
        this.#unsent.set(key, left);
        continue;
      }
      this.#unsent.delete(key);
      // The chunk being filled is kept when it is replaced (#room).
      if (key !== this.#chunk?.buffer) this.#keepSpare(Buffer.from(key));
    }
  }

  #keepSpare(chunk: Buffer): void {
    if (chunk.length === CHUNK_SIZE && this.#spare.length < SPARE_CHUNKS && !this.#closed) this.#spare.push(chunk);
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#draining === undefined) void this.#drain();
  };

  #drain(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#draining ??= this.#drainAll().finally(() => {
      this.#draining = undefined;
      // Lines that came in while the last batch was on its way wait for the next tick or a full batch.
      if (this.#count >= this.#buffer.maxBatch) void this.#drain();
      else if (this.#count > 0 && !this.#closed) this.#timer ??= setTimeout(this.#onTimer, this.#buffer.flushInterval).unref();
    });
    return this.#draining;
  }

  /** Takes the next batch: at most maxBatch records (in bytes mode, whole slices: one write of several). */
  #take(): Batch {
    if (this.#bytesMode) {
      this.#sealChunk();
      const counts = this.#sliceCounts;
      let n = 0;
      let taken = 0;
      let bytes = 0;
      // Every slice holds at most maxBatch records, so the first always fits.
      while (taken < counts.length && (taken === 0 || n + counts[taken]! <= this.#buffer.maxBatch)) {
        n += counts[taken]!;
        bytes += this.#slices[taken]!.length;
        taken++;
      }
      const slices = taken === this.#slices.length ? this.#slices : this.#slices.slice(0, taken);
      this.#slices = taken === this.#slices.length ? [] : this.#slices.slice(taken);
      this.#sliceCounts = taken === counts.length ? [] : counts.slice(taken);
      this.#count -= n;
      this.#size -= bytes;
      return { count: n, lines: EMPTY, times: EMPTY, bytes: slices };
    }
    const n = Math.min(this.#count, this.#buffer.maxBatch);
    let lines = this.#lines;
    let times = this.#times;
    if (n === lines.length) {
      this.#lines = [];
      this.#times = [];
    } else {
      this.#lines = lines.slice(n);
      this.#times = times.slice(n);
      lines = lines.slice(0, n);
      times = times.slice(0, n);
    }
    this.#count -= n;
    for (const line of lines) this.#size -= line.length;
    return { count: n, lines, times, bytes: EMPTY };
  }

  /**
   * Sends a batch, and more while full batches wait (or a flush asked for everything). Lines that come in while a
   * batch is on its way wait for the next full batch or the flush interval (#drain's finally): sending whatever
   * arrived after each write made a busy sink a stream of tiny writes, each a trip through libuv's thread pool —
   * measured, a file access log then cost a quarter of a worker's CPU at 10k requests/s.
   */
  async #drainAll(): Promise<void> {
    do await this.#sendWithRetries(this.#take());
    while (this.#count >= this.#buffer.maxBatch || (this.#flushing && this.#count > 0));
  }

  async #sendWithRetries(batch: Batch): Promise<void> {
    this.#inFlight = batch.count;
    try {
      await this.#sendOrGiveUp(batch);
    } finally {
      this.#inFlight = 0;
      if (!this.#abandoned) this.#release(batch.bytes);
    }
  }

  async #sendOrGiveUp(batch: Batch): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(batch);
        if (this.#abandoned) return;
        this.#hooks.count('written', batch.count);
        if (this.#failing) {
          this.#failing = false;
          this.#hooks.onError?.(undefined);
        }
        return;
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const permanent = error instanceof PermanentSinkError;
        if (permanent || attempt >= this.#buffer.maxRetries || this.#closed) {
          if (this.#abandoned) return;
          this.#hooks.count('failed', batch.count);
          if (!this.#failing) {
            this.#failing = true;
            this.#hooks.onError?.(error);
          }
          return;
        }
        await this.#backoff(attempt);
      }
    }
  }

  #backoff(attempt: number): Promise<void> {
    const base = Math.min(MAX_BACKOFF_MS, this.#buffer.retryBackoff * 2 ** attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeRetry = undefined;
        resolve();
      }, delay).unref();
      this.#wakeRetry = () => {
        clearTimeout(timer);
        this.#wakeRetry = undefined;
        resolve();
      };
    });
  }

  flush(): Promise<void> {
    if (this.#count === 0) return this.#draining ?? Promise.resolve();
    this.#flushing = true;
    return this.#drain().finally(() => {
      this.#flushing = false;
    });
  }

  async close(budgetMs = 5000): Promise<void> {
    if (this.#closed) return;
    const flushed = this.flush();
    this.#closed = true;
    this.#wakeRetry?.(); // a batch waiting to retry is tried once more now, then given up on
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flushed, new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs).unref()))]);
    clearTimeout(timer);
    // Whatever is still waiting, or still on its way after the budget, is given up on and counted.
    const unsent = this.#count + this.#inFlight;
    if (unsent > 0) {
      this.#hooks.count('failed', unsent);
      this.#abandoned = true;
      this.#lines = [];
      this.#times = [];
      this.#slices = [];
      this.#sliceCounts = [];
      this.#count = 0;
    }
    this.#unsent.clear();
    this.#spare = [];
    await this.release();
  }
}
