// W3C Trace Context (https://www.w3.org/TR/trace-context/) by hand: traceparent is 55 characters, and a parser
// that allocates nothing but the two id strings is cheaper than any general one. Also the ids Sluice mints.
import { randomFillSync } from 'node:crypto';
import { TraceState } from '@opentelemetry/core';

export interface ParentContext {
  readonly traceId: string;
  readonly parentSpanId: string;
  /** The trace-flags byte (bit 0: sampled). */
  readonly flags: number;
}

const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';
const TRACEPARENT_LENGTH = 55;
/** W3C Baggage §3.3.1: at least 8192 bytes must be propagated; more may be dropped. */
const MAX_BAGGAGE_LENGTH = 8192;
/** W3C Trace Context §3.3.1.1: at least 512 characters of tracestate must be propagated. */
const MAX_TRACESTATE_LENGTH = 512;

/** Lower-case hex only: §3.2.2 says uppercase is invalid. */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

export function isLowerHex(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (hexValue(text.charCodeAt(i)) < 0) return false;
  return true;
}

/**
 * Parses a `traceparent` header value; undefined when it is invalid, in which case the request starts a new trace
 * (§3.2.2: "If the vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate").
 *
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
 * // → { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', flags: 1 }
 */
export function parseTraceparent(value: string | string[] | undefined): ParentContext | undefined {
  // Two traceparent headers are invalid (§3.2); Node joins repeated unknown headers with ", " anyway.
  if (typeof value !== 'string' || value.length < TRACEPARENT_LENGTH) return undefined;
  const v0 = hexValue(value.charCodeAt(0));
  const v1 = hexValue(value.charCodeAt(1));
  if (v0 < 0 || v1 < 0) return undefined;
  const version = v0 * 16 + v1;
  if (version === 0xff) return undefined; // §3.2.2.1: version ff is forbidden
  // Version 00 is exactly 55 characters; a later version may append fields after a "-" (§3.2.4).
  if (version === 0 ? value.length !== TRACEPARENT_LENGTH : value.length > TRACEPARENT_LENGTH && value.charCodeAt(TRACEPARENT_LENGTH) !== 45) {
    return undefined;
  }
  if (value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return undefined;
  if (!isLowerHex(value, 3, 35) || !isLowerHex(value, 36, 52)) return undefined;
  const f0 = hexValue(value.charCodeAt(53));
  const f1 = hexValue(value.charCodeAt(54));
  if (f0 < 0 || f1 < 0) return undefined;
  const traceId = value.slice(3, 35);
  const parentSpanId = value.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || parentSpanId === ZERO_SPAN_ID) return undefined; // §3.2.2.3, §3.2.2.4
  return { traceId, parentSpanId, flags: f0 * 16 + f1 };
}

/** The traceparent Sluice sends: always version 00 (§3.2.4: a vendor sends the version it understands). */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/**
 * The tracestate to forward: members that fail the §3.3.1 grammar are dropped, at most 32 are kept. Sluice adds no
 * member of its own, so an absent or empty header stays absent.
 */
export function forwardableTracestate(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = typeof value === 'string' ? value : value.join(',');
  if (joined.length === 0) return undefined;
  const serialized = new TraceState(joined).serialize();
  if (serialized.length === 0 || serialized.length > MAX_TRACESTATE_LENGTH) return undefined;
  return serialized;
}

/** Baggage is forwarded as it came (Sluice neither reads nor adds entries), up to the size every hop must accept. */
export function forwardableBaggage(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = typeof value === 'string' ? value : value.join(',');
  return joined.length === 0 || joined.length > MAX_BAGGAGE_LENGTH ? undefined : joined;
}

// Ids come from a pool of CSPRNG bytes refilled 4 KiB at a time: one randomFillSync per ~170 requests instead of
// one per id. A trace id's low 7 bytes are random, as Trace Context Level 2's "random" flag expects.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** A new 16-byte trace id in lower-case hex, never all zeros. */
export function newTraceId(): string {
  let id = randomHex(16);
  while (id === ZERO_TRACE_ID) id = randomHex(16);
  return id;
}

/** A new 8-byte span id in lower-case hex, never all zeros. */
export function newSpanId(): string {
  let id = randomHex(8);
  while (id === ZERO_SPAN_ID) id = randomHex(8);
  return id;
}
