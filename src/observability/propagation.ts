// Which trace-header formats Sluice reads from callers and writes to upstreams: W3C Trace Context by default, and
// Zipkin's B3 (single header, or X-B3-* headers) for services and meshes that speak it. Several formats at once
// serve a migration: read whichever the caller sent, write all of them, so both kinds of upstream join the trace.
import type { IncomingHttpHeaders } from 'node:http';
import type { Propagator } from '../config/observability-schema.ts';
import { b3TraceId, formatB3Single, parseB3Multi, parseB3Single, type RemoteParent } from './b3.ts';
import { formatTraceparent, parseTraceparent } from './trace-context.ts';

export type { RemoteParent } from './b3.ts';

const HEADERS_OF: Record<Propagator, readonly string[]> = {
  tracecontext: ['traceparent', 'tracestate'],
  b3: ['b3'],
  b3multi: ['x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'],
};

function fromTraceparent(headers: IncomingHttpHeaders): RemoteParent | undefined {
  const parent = parseTraceparent(headers.traceparent);
  return parent === undefined ? undefined : { traceId: parent.traceId, parentSpanId: parent.parentSpanId, sampled: (parent.flags & 1) === 1, w3c: true };
}

/**
 * @example
 * const propagation = new TracePropagation(['b3multi', 'tracecontext']);
 * const parent = propagation.extract(req.headers);            // X-B3-* if valid, else traceparent
 * propagation.inject(traceId, attemptSpanId, sampled, undefined, undefined); // X-B3-TraceId… then traceparent
 */
export class TracePropagation {
  readonly #formats: readonly Propagator[];
  /** Client headers not copied upstream when Sluice traces a request: it writes these itself (baggage included). */
  readonly replaced: ReadonlySet<string>;

  constructor(formats: readonly Propagator[]) {
    this.#formats = formats;
    this.replaced = new Set(['baggage', ...formats.flatMap((f) => HEADERS_OF[f])]);
  }

  /** The first configured format whose headers the caller sent, and sent valid, gives the parent. */
  extract(headers: IncomingHttpHeaders): RemoteParent | undefined {
    const formats = this.#formats;
    for (let i = 0; i < formats.length; i++) {
      const format = formats[i]!;
      const parent = format === 'tracecontext' ? fromTraceparent(headers) : format === 'b3' ? parseB3Single(headers.b3) : parseB3Multi(headers);
      if (parent !== undefined) return parent;
    }
    return undefined;
  }

  /**
   * The trace headers of one upstream attempt, in the configured formats' order. Every attempt gets the same names in
   * the same positions (only the span id differs), so a retry rewrites the values in place.
   */
  inject(traceId: string, spanId: string, sampled: boolean, traceState: string | undefined, baggage: string | undefined): Array<[string, string]> {
    const headers: Array<[string, string]> = [];
    for (const format of this.#formats) {
      if (format === 'tracecontext') {
        headers.push(['traceparent', formatTraceparent(traceId, spanId, sampled)]);
        if (traceState !== undefined) headers.push(['tracestate', traceState]);
      } else if (format === 'b3') {
        headers.push(['b3', formatB3Single(traceId, spanId, sampled)]);
      } else {
        headers.push(['x-b3-traceid', b3TraceId(traceId)], ['x-b3-spanid', spanId], ['x-b3-sampled', sampled ? '1' : '0']);
      }
    }
    if (baggage !== undefined) headers.push(['baggage', baggage]);
    return headers;
  }
}
