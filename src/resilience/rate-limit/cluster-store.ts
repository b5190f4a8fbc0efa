// Local rate limiting that is exact across `--workers N`. Workers are separate processes, so buckets cannot be
// shared memory: they live in one LocalRateLimitStore in the cluster primary, and workers ask it over the cluster
// IPC channel. Every decision is made by one GCRA state with one clock, so N workers admit exactly what one
// process would. To keep the IPC cost low, a worker sends the takes of one event-loop turn as one message
// (setImmediate batching) and the primary answers the batch with one message.
//
// The price: a rate-limited request waits one IPC round trip (tens of µs on an idle primary; the primary runs no
// proxy traffic). The alternative, each worker limiting at rate / N, needs no IPC but is inexact: the kernel's
// SO_REUSEPORT spreads connections, not requests, so one client on one keep-alive connection hits a single worker
// and would get rate / N. If the primary does not answer within timeoutMs (it is stuck or gone), the failure
// mode decides, reported once per outage as for Redis.
import type { LocalRateLimitStore } from './local-store.ts';
import { emissionIntervalMs, type Rate } from './rate.ts';
import { OutageTracker } from '../outage.ts';
import { degradedDecision, type FailureMode, type RateLimitDecision, type RateLimitStore, type StoreOutage } from './store.ts';

/** Worker → primary: takes as a flat list, four entries each: key, emission interval ms, burst, cost. */
export interface RateLimitTakeMessage {
  type: 'rate-limit-take';
  seq: number;
  takes: Array<string | number>;
}

/** Primary → worker: decisions as a flat list, four entries each: allowed (1/0), remaining, resetMs, retryAfterMs. */
export interface RateLimitResultMessage {
  type: 'rate-limit-result';
  seq: number;
  results: number[];
}

/** The side of an IPC channel this module uses: `process` in a worker, a cluster `Worker` in the primary. */
export interface IpcChannel {
  /** With a callback, a closed channel is reported to it instead of as an 'error' event on the channel. */
  send(message: RateLimitTakeMessage | RateLimitResultMessage, callback: (error: Error | null) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export function isRateLimitTakeMessage(message: unknown): message is RateLimitTakeMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'rate-limit-take';
}

function isRateLimitResultMessage(message: unknown): message is RateLimitResultMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'rate-limit-result';
}

/** The primary's answer to one batch. Pure apart from the store's state. */
export function answerRateLimitTakes(store: LocalRateLimitStore, message: RateLimitTakeMessage): RateLimitResultMessage {
  const takes = message.takes;
  const results: number[] = new Array<number>(takes.length);
  for (let i = 0; i + 3 < takes.length; i += 4) {
    const d = store.takeByInterval(String(takes[i]), Number(takes[i + 1]), Number(takes[i + 2]), Number(takes[i + 3]));
    results[i] = d.allowed ? 1 : 0;
    results[i + 1] = d.remaining;
    results[i + 2] = d.resetMs;
    results[i + 3] = d.retryAfterMs;
  }
  return { type: 'rate-limit-result', seq: message.seq, results };
}

/**
 * In the primary: answers a worker's rate-limit batches from `store`. Returns a function that stops answering.
 *
 * @example
 * const buckets = new LocalRateLimitStore();
 * cluster.on('online', (worker) => serveRateLimitTakes(worker, buckets));
 */
export function serveRateLimitTakes(channel: IpcChannel, store: LocalRateLimitStore): () => void {
  const listener = (message: unknown) => {
    if (!isRateLimitTakeMessage(message)) return;
    // An error here means the worker is gone (channel closed): its requests ended with it.
    channel.send(answerRateLimitTakes(store, message), ignoreClosed);
  };
  channel.on('message', listener);
  return () => channel.off('message', listener);
}

function ignoreClosed(): void {}

export interface ClusterStoreOptions {
  /** The channel to the primary. Default: `process` (a cluster worker's IPC channel). */
  channel?: IpcChannel;
  /** Decision when the primary does not answer in time. Default 'open'. */
  failureMode?: FailureMode;
  /** Longest wait for the primary's answer, ms. Default 250. */
  timeoutMs?: number;
  /** Called once when the primary stops answering and once when it answers again. */
  onOutage?: (event: StoreOutage) => void;
}

interface Batch {
  resolvers: Array<(d: RateLimitDecision) => void>;
  rates: Rate[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * In a worker: a RateLimitStore whose buckets live in the primary.
 *
 * @example
 * const store = new ClusterRateLimitStore({ failureMode: 'open', onOutage: (e) => log.warn(e, 'rate-limit primary') });
 * const d = await store.take(key, rate, burst);
 */
export class ClusterRateLimitStore implements RateLimitStore {
  readonly #channel: IpcChannel;
  readonly #mode: FailureMode;
  readonly #timeoutMs: number;
  readonly #outage: OutageTracker;
  readonly #inFlight = new Map<number, Batch>();
  #seq = 0;
  #takes: Array<string | number> = [];
  #batch: Batch | undefined;
  #closed = false;

  constructor(options: ClusterStoreOptions = {}) {
    const channel = options.channel ?? (process as unknown as IpcChannel);
    if (channel === (process as unknown) && typeof process.send !== 'function') {
      throw new Error('ClusterRateLimitStore needs an IPC channel: run it in a cluster worker or pass `channel`');
    }
    this.#channel = channel;
    this.#mode = options.failureMode ?? 'open';
    this.#timeoutMs = options.timeoutMs ?? 250;
    this.#outage = new OutageTracker('cluster-primary', options.onOutage ?? (() => {}));
    channel.on('message', this.#onMessage);
  }

  take(key: string, rate: Rate, burst: number, cost = 1): Promise<RateLimitDecision> {
    if (this.#closed) return Promise.resolve(degradedDecision(this.#mode, rate));
    let batch = this.#batch;
    if (batch === undefined) {
      batch = { resolvers: [], rates: [], timer: undefined };
      this.#batch = batch;
      setImmediate(this.#flush);
    }
    this.#takes.push(key, emissionIntervalMs(rate), burst, cost);
    batch.rates.push(rate);
    const resolvers = batch.resolvers;
    return new Promise((resolve) => resolvers.push(resolve));
  }

  #flush = (): void => {
    const batch = this.#batch;
    if (batch === undefined) return;
    const takes = this.#takes;
    this.#batch = undefined;
    this.#takes = [];
    const seq = ++this.#seq;
    this.#inFlight.set(seq, batch);
    batch.timer = setTimeout(() => this.#fail(seq, new Error(`the cluster primary did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    batch.timer.unref();
    try {
      this.#channel.send({ type: 'rate-limit-take', seq, takes }, (err) => {
        if (err) this.#fail(seq, err);
      });
    } catch (err) {
      this.#fail(seq, err);
    }
  };

  #onMessage = (message: unknown): void => {
    if (!isRateLimitResultMessage(message)) return;
    const batch = this.#inFlight.get(message.seq);
    if (batch === undefined) return; // answered after its timeout: already decided by the failure mode
    this.#inFlight.delete(message.seq);
    clearTimeout(batch.timer);
    this.#outage.succeeded();
    const r = message.results;
    for (let i = 0; i < batch.resolvers.length; i++) {
      const j = i * 4;
      batch.resolvers[i]!({ allowed: r[j] === 1, remaining: r[j + 1]!, resetMs: r[j + 2]!, retryAfterMs: r[j + 3]! });
    }
  };

  #fail(seq: number, error: unknown, report = true): void {
    const batch = this.#inFlight.get(seq);
    if (batch === undefined) return;
    this.#inFlight.delete(seq);
    clearTimeout(batch.timer);
    for (let i = 0; i < batch.resolvers.length; i++) {
      if (report) this.#outage.failed(error);
      batch.resolvers[i]!(degradedDecision(this.#mode, batch.rates[i]!));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#channel.off('message', this.#onMessage);
    const pending = this.#batch;
    this.#batch = undefined;
    this.#takes = [];
    if (pending) for (let i = 0; i < pending.resolvers.length; i++) pending.resolvers[i]!(degradedDecision(this.#mode, pending.rates[i]!));
    for (const seq of [...this.#inFlight.keys()]) this.#fail(seq, new Error('store closed'), false);
  }
}
