// Request mirroring (shadowing): a sampled copy of a route's requests goes to a shadow upstream, fire and forget.
// The shadow's answers are read and thrown away; its failures are counted and reported once per outage. The real
// request never waits for it and never fails because of it: mirror() only hands the copy to the shadow's undici
// pool and returns. Concurrency is bounded: a slow shadow makes copies be skipped (counted), never queue up
// without limit in memory.
//
// Bodies: a copy needs the body as bytes. Body-less requests are mirrored as they are; a request whose body was
// buffered (the route buffers for retries) passes that buffer; a streamed body is not mirrored (teeing the stream
// would let a slow shadow slow the real upload down through backpressure).
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { OutageTracker, type Outage } from './outage.ts';

export interface MirrorOptions {
  /** The shadow upstream's dispatcher, e.g. its target's undici Pool (only `dispatch` is used). */
  dispatcher: Pick<Dispatcher, 'dispatch'>;
  /** Share of requests copied, percent. Default 100. */
  percent?: number;
  /** Most copies in flight; beyond it copies are skipped. Default 100. */
  maxConcurrent?: number;
  /** A copy whose shadow stays silent this long (for its head, or between body chunks) is abandoned, ms. Default 5000. */
  timeoutMs?: number;
  /** Called once when the shadow starts failing and once when it answers again. */
  onOutage?: (event: Outage) => void;
  /** Name used in outage reports. Default 'mirror'. */
  name?: string;
  /** Uniform random in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number;
}

/** What to copy; `headers` are read synchronously inside mirror(), so the caller may reuse its array after. */
export interface MirroredRequest {
  method: string;
  /** Path and query as sent upstream. */
  path: string;
  headers: string[] | IncomingHttpHeaders;
  body?: Buffer | string | null;
}

export interface MirrorStats {
  /** Copies handed to the shadow. */
  sent: number;
  /** Copies that got a complete response (any status). */
  completed: number;
  /** Copies that failed (connect error, reset, timeout). */
  failed: number;
  /** Copies skipped because maxConcurrent were in flight. */
  skipped: number;
  inFlight: number;
}

type Controller = Dispatcher.DispatchController;

/** Reads and discards one shadow response; one per copy (allocated only for sampled requests). */
class DiscardHandler implements Dispatcher.DispatchHandler {
  readonly #settle: (ok: boolean, error: Error | undefined) => void;
  #done = false;

  constructor(settle: (ok: boolean, error: Error | undefined) => void) {
    this.#settle = settle;
  }

  onRequestStart(): void {}
  onResponseStart(): void {}
  onResponseData(): void {}

  onResponseEnd(): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle(true, undefined);
  }

  onResponseError(_controller: Controller | undefined, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle(false, error);
  }
}

/**
 * @example
 * const mirror = new Mirror({ dispatcher: shadowTarget.pool, percent: 10, maxConcurrent: 50,
 *   onOutage: (e) => log.warn(e, e.down ? 'mirror target failing' : 'mirror target back') });
 * // after the real request was handed to its upstream:
 * if (!hasStreamedBody) mirror.mirror({ method, path, headers, body: bufferedBody });
 */
export class Mirror {
  readonly #dispatcher: Pick<Dispatcher, 'dispatch'>;
  readonly #share: number;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #random: () => number;
  readonly #outage: OutageTracker;
  readonly #stats: MirrorStats = { sent: 0, completed: 0, failed: 0, skipped: 0, inFlight: 0 };

  constructor(options: MirrorOptions) {
    const percent = options.percent ?? 100;
    if (!(percent >= 0 && percent <= 100)) throw new RangeError(`mirror percent must be in [0, 100], got ${percent}`);
    this.#dispatcher = options.dispatcher;
    this.#share = percent / 100;
    this.#max = Math.max(1, options.maxConcurrent ?? 100);
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#random = options.random ?? Math.random;
    this.#outage = new OutageTracker(options.name ?? 'mirror', options.onOutage ?? (() => {}));
  }

  stats(): MirrorStats {
    return { ...this.#stats };
  }

  /** Sends a copy if this request is sampled and a slot is free. Never throws, never waits. Returns whether sent. */
  mirror(request: MirroredRequest): boolean {
    if (this.#share < 1 && this.#random() >= this.#share) return false;
    const stats = this.#stats;
    if (stats.inFlight >= this.#max) {
      stats.skipped++;
      return false;
    }
    stats.inFlight++;
    stats.sent++;
    const handler = new DiscardHandler(this.#settle);
    try {
      this.#dispatcher.dispatch(
        {
          method: request.method,
          path: request.path,
          headers: request.headers,
          body: request.body ?? null,
          headersTimeout: this.#timeoutMs,
          bodyTimeout: this.#timeoutMs,
        },
        handler,
      );
    } catch (err) {
      handler.onResponseError(undefined, err as Error);
    }
    return true;
  }

  /** A copy ended. */
  #settle = (ok: boolean, error: Error | undefined): void => {
    const stats = this.#stats;
    stats.inFlight--;
    if (ok) {
      stats.completed++;
      this.#outage.succeeded();
    } else {
      stats.failed++;
      this.#outage.failed(error);
    }
  };
}
