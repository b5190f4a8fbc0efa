// The logging phase's work — metrics, spans, the trace store, the access-log line — is done for a batch of
// requests at a time: a response's close only queues its telemetry, and everything queued in one event-loop turn
// is finished one after the other from a single setImmediate (under load, a turn closes a dozen responses or more).
// Done request by request, between one response's socket writes and the next request's parsing, the same work cost
// the gateway nearly twice the CPU it costs done in a run, where its code and data stay in the CPU's caches
// (docs/benchmarks.md, "Observability (issue 4)"). Nothing is lost by waiting: each record's times were taken when
// its request ended, and the batch runs before the event loop reads any further I/O.
import type { RequestRecord } from './types.ts';

export interface Finishable {
  finish(record: RequestRecord): void;
}

/**
 * @example
 * const ends = new EndBatch();
 * ends.add(telemetry, record); // in the response's close: returns at once
 * ends.settle();               // before reading what the ended requests recorded (flush, shutdown)
 */
export class EndBatch {
  #telemetries: Finishable[] = [];
  #records: RequestRecord[] = [];

  add(telemetry: Finishable, record: RequestRecord): void {
    if (this.#telemetries.push(telemetry) === 1) setImmediate(this.#run);
    this.#records.push(record);
  }

  #run = (): void => this.settle();

  /** Finishes every queued request now (a later scheduled run then finds nothing to do). */
  settle(): void {
    const telemetries = this.#telemetries;
    const records = this.#records;
    if (telemetries.length === 0) return;
    this.#telemetries = [];
    this.#records = [];
    for (let i = 0; i < telemetries.length; i++) telemetries[i]!.finish(records[i]!);
  }
}
