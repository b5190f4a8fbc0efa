// The access log: one JSON line per request, apart from Sluice's own log (so it can be sampled, filtered and
// shipped on its own), into the configured sinks. Deciding whether to write comes first: a line filtered out
// costs a comparison. A line is one JSON.stringify of a flat object of a fixed shape, not a pino call: measured
// at 20k lines/s, pino's general-purpose serializer (per-key escaping, string concatenation) cost 4.0 µs of CPU
// a line against 1.2 µs here (see docs/observability.md, "Cost"), and a fixed flat schema needs none of its
// features — levels, child bindings, serializers, redaction.
import { ACCESS_LOG_FIELDS, type AccessLogField, type AccessLogSettings } from '../config/observability-schema.ts';
import type { LogSink } from './sinks/index.ts';
import type { RequestRecord } from './types.ts';

/** Sluice's notion of an error line: a 5xx, a response that never went out, or an error Sluice produced. */
export function isErrorRequest(record: RequestRecord): boolean {
  return record.status >= 500 || record.status < 100 || record.errorCode !== undefined;
}

// At thousands of lines a second most lines share their millisecond: format each millisecond once. The time is the
// request's end, from the performance.now() the record already holds plus the wall clock's offset, read again
// once a second so a stepped system clock shows within a second: no clock read per line (Date.now() was 0.6 % of a
// worker's busy time at 10k lines/s).
let lastMs = 0;
let lastTime = '';
let wallOffset = Date.now() - performance.now();
let offsetReadAt = performance.now();
function isoTime(performanceTime: number): string {
  if (performanceTime - offsetReadAt > 1000) {
    offsetReadAt = performance.now();
    wallOffset = Date.now() - offsetReadAt;
  }
  const ms = Math.floor(wallOffset + performanceTime);
  if (ms !== lastMs) {
    lastMs = ms;
    lastTime = new Date(ms).toISOString();
  }
  return lastTime;
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * @example
 * const log = new AccessLog(settings, sinks);
 * log.write(record, telemetry.traceId, telemetry.spanId, telemetry.sampled);
 */
export class AccessLog {
  readonly #timeField: boolean;
  readonly #destination: (line: string) => void;
  readonly #sinks: readonly LogSink[];
  /** Fields left out of the line: set to undefined, which JSON.stringify leaves out. */
  readonly #excluded: readonly AccessLogField[];
  readonly #sampling: number;
  readonly #errorsOnly: boolean;
  readonly #slowerThan: number | undefined;

  constructor(settings: AccessLogSettings, sinks: readonly LogSink[]) {
    this.#sinks = sinks;
    const chosen = new Set<AccessLogField>(settings.fields ?? ACCESS_LOG_FIELDS);
    this.#excluded = ACCESS_LOG_FIELDS.filter((f) => f !== 'time' && !chosen.has(f));
    this.#sampling = settings.sampling;
    this.#errorsOnly = settings.errorsOnly;
    this.#slowerThan = settings.slowerThan;
    this.#timeField = chosen.has('time');
    const only = sinks[0];
    this.#destination = sinks.length === 1 && only !== undefined
      ? (line) => only.write(line)
      : (line) => {
        for (const sink of sinks) sink.write(line);
      };
  }

  /** Whether this request's line is written: filters first (either one passing is enough), then sampling. */
  wants(record: RequestRecord): boolean {
    const error = isErrorRequest(record);
    if (this.#errorsOnly || this.#slowerThan !== undefined) {
      const slow = this.#slowerThan !== undefined && record.endTime - record.startTime >= this.#slowerThan;
      if (!(this.#errorsOnly && error) && !slow) return false;
    }
    return error || this.#sampling >= 1 || Math.random() < this.#sampling;
  }

  /** Writes the line if wants() agrees. */
  write(r: RequestRecord, traceId: string, spanId: string, sampled: boolean): void {
    if (this.wants(r)) this.#destination(this.line(r, traceId, spanId, sampled));
  }

  /** The JSON line, newline-terminated; absent values leave their fields out. */
  line(r: RequestRecord, traceId: string, spanId: string, sampled: boolean): string {
    // One literal of a fixed shape (fast to build and to walk); field selection blanks the others afterwards.
    const line: Record<AccessLogField, string | number | boolean | undefined> = {
      time: undefined, // written first, below
      trace_id: traceId || undefined,
      span_id: spanId || undefined,
      request_id: r.requestId,
      listener: r.listener,
      route: r.route,
      upstream: r.upstream,
      target: r.target,
      method: r.method,
      path: r.path,
      status: r.status,
      error_code: r.errorCode,
      duration_ms: round3(r.endTime - r.startTime),
      upstream_ms: r.upstreamStart === undefined ? undefined : round3(r.endTime - r.upstreamStart),
      ttfb_ms: r.firstByte === undefined ? undefined : round3(r.firstByte - r.startTime),
      bytes_in: r.bytesIn,
      bytes_out: r.bytesOut,
      attempts: r.attempts,
      client_address: r.clientAddress,
      user_agent: r.userAgent,
      sampled: traceId ? sampled : undefined,
    };
    const excluded = this.#excluded;
    for (let i = 0; i < excluded.length; i++) line[excluded[i]!] = undefined;
    // JSON.stringify leaves undefined fields out; the constant marker and the time go in front.
    const json = JSON.stringify(line);
    const head = this.#timeField ? `{"log":"access","time":"${isoTime(r.endTime)}"` : '{"log":"access"';
    return json.length > 2 ? `${head},${json.slice(1)}\n` : `${head}}\n`;
  }

  flush(): Promise<void> {
    return Promise.all(this.#sinks.map((s) => s.flush())).then(() => undefined);
  }

  close(budgetMs?: number): Promise<void> {
    return Promise.all(this.#sinks.map((s) => s.close(budgetMs))).then(() => undefined);
  }
}
