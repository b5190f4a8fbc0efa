// OTLP/HTTP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) for `tracing.otlp.protocol:
// http/json`: for a receiver reached through something that only passes JSON, or payloads read by eye. It is the
// protobuf JSON mapping with OTLP's own rules: trace and span ids in hex (not base64), enums as integers, the 64-bit
// times as decimal strings, keys in lowerCamelCase; fields at their default value are left out, as proto3 allows.
// By hand, like otlp-encode.ts and for the same reason: the exporter encodes each span when its request ends, and
// otlp-transformer's JSON serializer only takes whole requests. The OTLP test compares both for the same spans.
import { SpanStatusCode, type Attributes, type AttributeValue, type HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { spanFlags } from './otlp-encode.ts';

interface JsonKeyValue {
  key: string;
  value: Record<string, string | number | boolean>;
}

/** AnyValue: proto3 JSON writes NaN and the infinities as strings; integers as numbers, as otlp-transformer does. */
function anyValue(v: AttributeValue): Record<string, string | number | boolean> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return { intValue: v };
    return { doubleValue: Number.isFinite(v) ? v : String(v) };
  }
  return { stringValue: String(v) };
}

function keyValues(attributes: Attributes): JsonKeyValue[] {
  const out: JsonKeyValue[] = [];
  for (const key in attributes) {
    const v = attributes[key];
    if (v !== undefined && v !== null && !Array.isArray(v)) out.push({ key, value: anyValue(v as AttributeValue) });
  }
  return out;
}

/** HrTime as decimal nanoseconds, exactly (a product in a double would round past 2^53). */
function nanos(t: HrTime): string {
  return `${Math.trunc(t[0])}${String(Math.trunc(t[1])).padStart(9, '0')}`;
}

/** One Span as OTLP JSON. */
export function spanJson(span: ReadableSpan): string {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  const traceState = ctx.traceState?.serialize();
  const { code, message } = span.status;
  const attributes = keyValues(span.attributes);
  return JSON.stringify({
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceState: traceState || undefined,
    parentSpanId: parent?.spanId,
    flags: spanFlags(ctx.traceFlags, parent),
    name: span.name,
    kind: span.kind + 1, // the API's SpanKind starts at INTERNAL = 0, OTLP's at UNSPECIFIED = 0
    startTimeUnixNano: nanos(span.startTime),
    endTimeUnixNano: nanos(span.endTime),
    attributes: attributes.length > 0 ? attributes : undefined,
    status: code !== SpanStatusCode.UNSET || message ? { code: code || undefined, message: message || undefined } : undefined,
  });
}

/**
 * Writes ExportTraceServiceRequests in JSON from spans encoded one at a time, with the interface of
 * TraceRequestEncoder that span-export.ts uses: prepare, write, then a head and an end around the spans' bytes.
 *
 * @example
 * const encoder = new TraceJsonEncoder();
 * const size = encoder.prepareSpan(span);           // at most this many bytes
 * pos = encoder.writePreparedSpan(buf, pos);        // `{…},`
 * head = encoder.requestHead(resource, scope);     // `{"resourceSpans":[{…,"spans":[`
 * end = encoder.writeRequestEnd(body, pos);         // replaces the last comma with `]}]}]}`
 */
export class TraceJsonEncoder {
  readonly #heads = new WeakMap<Resource, WeakMap<InstrumentationScope, Buffer>>();
  #prepared = '';

  prepareSpan(span: ReadableSpan): number {
    this.#prepared = `${spanJson(span)},`;
    return this.#prepared.length * 3; // UTF-8 bytes per UTF-16 unit, at most
  }

  writePreparedSpan(buf: Buffer, pos: number): number {
    return pos + buf.write(this.#prepared, pos, 'utf8');
  }

  requestHead(resource: Resource, scope: InstrumentationScope): Buffer {
    let byScope = this.#heads.get(resource);
    if (byScope === undefined) this.#heads.set(resource, (byScope = new WeakMap()));
    let head = byScope.get(scope);
    if (head === undefined) {
      const resourceJson = JSON.stringify({ attributes: keyValues(resource.attributes) });
      const scopeJson = JSON.stringify({ name: scope.name, version: scope.version || undefined });
      head = Buffer.from(`{"resourceSpans":[{"resource":${resourceJson},"scopeSpans":[{"scope":${scopeJson},"spans":[`);
      byScope.set(scope, head);
    }
    return head;
  }

  /** Bytes writeRequestEnd may add after the spans. */
  readonly endBytes = REQUEST_END.length;

  /** Closes the request after the spans ending at `pos` (each followed by a comma; there is at least one). */
  writeRequestEnd(body: Buffer, pos: number): number {
    return pos - 1 + REQUEST_END.copy(body, pos - 1);
  }
}

const REQUEST_END = Buffer.from(']}]}]}');
