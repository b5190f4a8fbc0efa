// Zipkin's B3 propagation (https://github.com/openzipkin/b3-propagation), single header (`b3`) and multiple headers
// (`X-B3-*`), for services instrumented with Zipkin, Brave or an Istio/Envoy mesh that speaks B3. Written by hand
// rather than with @opentelemetry/propagator-b3: that propagator reads an absent sampling state as "not sampled",
// where B3 says the receiver decides, drops the sampling-only form (`b3: 0`), and works through OpenTelemetry
// Context objects on every request; here a header becomes the same small record traceparent does.
import type { IncomingHttpHeaders } from 'node:http';
import { isLowerHex } from './trace-context.ts';

/** What a caller's trace headers said, in whichever format they came. */
export interface RemoteParent {
  /** 32 lower-case hex characters (a 64-bit B3 id is padded with zeros); undefined for B3's sampling-only form. */
  readonly traceId: string | undefined;
  readonly parentSpanId: string | undefined;
  /** The caller's decision; undefined when it left the decision to the receiver (B3 without a sampling state). */
  readonly sampled: boolean | undefined;
  /** The context came from traceparent, so the caller's tracestate belongs with it. */
  readonly w3c: boolean;
}

const ZEROS_16 = '0000000000000000';

/** A 16- or 32-character B3 trace id as a 32-character one; undefined if it is not lower-hex or all zeros. */
function traceIdOf(value: string): string | undefined {
  if ((value.length !== 16 && value.length !== 32) || !isLowerHex(value, 0, value.length)) return undefined;
  const id = value.length === 16 ? ZEROS_16 + value : value;
  return id === ZEROS_16 + ZEROS_16 ? undefined : id;
}

function spanIdOf(value: string): string | undefined {
  return value.length === 16 && value !== ZEROS_16 && isLowerHex(value, 0, 16) ? value : undefined;
}

/** B3 sends a trace id as it was minted: a 64-bit one (padded here) goes back out in its 16 characters. */
export function b3TraceId(traceId: string): string {
  return traceId.startsWith(ZEROS_16) ? traceId.slice(16) : traceId;
}

/** A single sampling state: "1" and "d" (debug, which implies sampled) sample, "0" does not; null: invalid. */
function singleSampled(state: string): boolean | null {
  if (state === '1' || state === 'd') return true;
  if (state === '0') return false;
  return null;
}

/**
 * Parses the single `b3` header: `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`, or a sampling state alone.
 *
 * @example
 * parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90')
 * // → { traceId: '80f198ee…', parentSpanId: 'e457b5a2e4d86bd1', sampled: true, w3c: false }
 */
export function parseB3Single(value: string | string[] | undefined): RemoteParent | undefined {
  if (typeof value !== 'string') return undefined; // absent, or repeated (ambiguous)
  const parts = value.trim().split('-');
  if (parts.length === 1) {
    const sampled = singleSampled(parts[0]!);
    return sampled === null ? undefined : { traceId: undefined, parentSpanId: undefined, sampled, w3c: false };
  }
  if (parts.length > 4) return undefined;
  const traceId = traceIdOf(parts[0]!);
  const spanId = spanIdOf(parts[1]!);
  if (traceId === undefined || spanId === undefined) return undefined;
  const sampled = parts.length >= 3 ? singleSampled(parts[2]!) : undefined;
  if (sampled === null) return undefined;
  // The fourth field is the caller's own parent, which says nothing about Sluice's place in the tree; it is checked.
  if (parts.length === 4 && spanIdOf(parts[3]!) === undefined) return undefined;
  return { traceId, parentSpanId: spanId, sampled, w3c: false };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value.trim() : undefined;
}

/**
 * Parses the `X-B3-*` headers. X-B3-Flags: 1 (debug) implies sampled; X-B3-Sampled accepts the "true"/"false" that
 * tracers sent before the spec said 1/0. Without ids, a sampling decision alone still counts.
 */
export function parseB3Multi(headers: IncomingHttpHeaders): RemoteParent | undefined {
  const rawTraceId = header(headers, 'x-b3-traceid');
  const rawSpanId = header(headers, 'x-b3-spanid');
  const flags = header(headers, 'x-b3-flags');
  const sampledHeader = header(headers, 'x-b3-sampled');
  let sampled: boolean | undefined;
  if (flags === '1') sampled = true;
  else if (sampledHeader === '1' || sampledHeader === 'true') sampled = true;
  else if (sampledHeader === '0' || sampledHeader === 'false') sampled = false;
  else if (sampledHeader !== undefined) return undefined;
  if (rawTraceId === undefined && rawSpanId === undefined) {
    return sampled === undefined ? undefined : { traceId: undefined, parentSpanId: undefined, sampled, w3c: false };
  }
  const traceId = rawTraceId === undefined ? undefined : traceIdOf(rawTraceId);
  const spanId = rawSpanId === undefined ? undefined : spanIdOf(rawSpanId);
  if (traceId === undefined || spanId === undefined) return undefined;
  return { traceId, parentSpanId: spanId, sampled, w3c: false };
}

/** The single header Sluice sends: trace id, the attempt's span id and the decision (no parent: B3 makes it optional). */
export function formatB3Single(traceId: string, spanId: string, sampled: boolean): string {
  return `${b3TraceId(traceId)}-${spanId}-${sampled ? '1' : '0'}`;
}
