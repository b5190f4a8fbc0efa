// Something a request depends on but can do without (a shared rate-limit store, a shadow upstream) is either
// reachable or in an outage. An outage is reported once when it starts and once when it ends — never once per
// request, which would flood the log exactly when the system is already in trouble.

/** One report: the start or the end of an outage. */
export interface Outage {
  /** What failed: 'redis', 'cluster-primary', 'mirror:<upstream>'. */
  store: string;
  /** true when the outage starts, false when it ends. */
  down: boolean;
  /** The first error of the outage. */
  error?: string;
  /** Requests that failed (or were decided by a failure mode) during the outage, on the "up" report. */
  degradedRequests?: number;
}

/**
 * Turns a stream of successes and failures into one "down" report per outage and one "up" report when it ends.
 *
 * @example
 * const outage = new OutageTracker('redis', (e) => log.warn(e, e.down ? 'rate-limit store down' : 'rate-limit store back'));
 * try { ...; outage.succeeded(); } catch (err) { outage.failed(err); }
 */
export class OutageTracker {
  readonly #what: string;
  readonly #report: (event: Outage) => void;
  #down = false;
  #degraded = 0;

  constructor(store: string, report: (event: Outage) => void) {
    this.#what = store;
    this.#report = report;
  }

  get down(): boolean {
    return this.#down;
  }

  failed(error: unknown): void {
    this.#degraded++;
    if (this.#down) return;
    this.#down = true;
    this.#report({ store: this.#what, down: true, error: error instanceof Error ? error.message : String(error) });
  }

  succeeded(): void {
    if (!this.#down) return;
    this.#down = false;
    const degradedRequests = this.#degraded;
    this.#degraded = 0;
    this.#report({ store: this.#what, down: false, degradedRequests });
  }
}
