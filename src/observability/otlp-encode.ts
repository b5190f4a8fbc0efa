// OTLP ExportTraceServiceRequest in protobuf, for the spans Sluice emits. Measured on them, encoding through
// @opentelemetry/otlp-transformer costs ≈ 6 µs of CPU a span on the benchmark machine — with two spans a request
// at 100% sampling that alone is a sixth of the gateway's per-request budget. Its encoder walks every string twice
// in JavaScript; Sluice's spans repeat most of their attribute values (method, route, upstream, target, host), so
// this one encodes each recurring (key, value) pair once and copies its bytes afterwards, and writes ids and
// strings with Buffer's native hex and UTF-8 writers (figures: docs/observability.md, "Cost").
// Field numbers are those of opentelemetry-proto (collector/trace/v1, trace/v1, common/v1, resource/v1); the OTLP
// test decodes the output with those definitions, and compares it with otlp-transformer's for the same spans.
// Covers what Sluice's spans carry: attributes of strings, booleans and numbers; no events or links.
import { SpanStatusCode, type Attributes, type AttributeValue, type HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** OTLP SpanFlags (trace.proto): whether the parent is remote is known, and it is. */
const CONTEXT_HAS_IS_REMOTE = 0x100;
const CONTEXT_IS_REMOTE = 0x200;
/** OTLP Span.flags: the W3C trace flags, and whether the parent is remote when there is one. */
export function spanFlags(traceFlags: number, parent: { isRemote?: boolean } | undefined): number {
  return traceFlags | (parent ? CONTEXT_HAS_IS_REMOTE | (parent.isRemote ? CONTEXT_IS_REMOTE : 0) : 0);
}

/** Distinct values cached per attribute key; a key with more (a path, a request id) is encoded every time. */
const MAX_VALUES_PER_KEY = 64;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
}

function isVarintInt(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** A length-delimited field: tag, length, then the body. */
function lenField(tag: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(body.length) + body.length);
  out[0] = tag;
  body.copy(out, writeVarint(out, 1, body.length));
  return out;
}

function stringField(tag: number, s: string): Buffer {
  return lenField(tag, Buffer.from(s, 'utf8'));
}

function anyValue(v: AttributeValue): Buffer {
  if (typeof v === 'string') return stringField(0x0a, v); // string_value = 1
  if (typeof v === 'boolean') return Buffer.from([0x10, v ? 1 : 0]); // bool_value = 2
  if (typeof v === 'number' && isVarintInt(v)) {
    const out = Buffer.allocUnsafe(1 + varintSize(v));
    out[0] = 0x18; // int_value = 3
    writeVarint(out, 1, v);
    return out;
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
    // A negative (or beyond 2^53) integer: int64, a 10-byte two's-complement varint for negatives.
    const bytes: number[] = [0x18];
    for (let n = BigInt.asUintN(64, BigInt(v)); ; n >>= 7n) {
      if (n < 0x80n) {
        bytes.push(Number(n));
        break;
      }
      bytes.push(Number(n & 0x7fn) | 0x80);
    }
    return Buffer.from(bytes);
  }
  const out = Buffer.allocUnsafe(9);
  out[0] = 0x21; // double_value = 4
  out.writeDoubleLE(Number(v), 1);
  return out;
}

/** A whole repeated KeyValue field (tag included) as it appears in a Span (9) or a Resource (1). */
function keyValueField(tag: number, key: string, v: AttributeValue): Buffer {
  return lenField(tag, Buffer.concat([stringField(0x0a, key), lenField(0x12, anyValue(v))]));
}

/** HrTime as fixed64 nanoseconds, without a product beyond 2^53. */
function writeTime(buf: Buffer, pos: number, t: HrTime): number {
  const seconds = t[0];
  const hi16 = Math.floor(seconds / 65536);
  const lo16 = seconds - hi16 * 65536;
  const a = lo16 * 1e9 + t[1]; // total = hi16·1e9·2^16 + a
  const b = hi16 * 1e9;
  const bq = Math.floor(b / 65536);
  const c = (b - bq * 65536) * 65536 + a; // total = bq·2^32 + c
  const carry = Math.floor(c / 4294967296);
  buf.writeUInt32LE(c - carry * 4294967296, pos);
  buf.writeUInt32LE(bq + carry, pos + 4);
  return pos + 8;
}

/**
 * Encodes ExportTraceServiceRequests. One instance lives as long as the exporter, so its caches of encoded
 * attribute pairs, span names, resources and scopes carry over from batch to batch.
 *
 * @example
 * const encoder = new TraceRequestEncoder();
 * const body = encoder.encode(spans); // POST to {endpoint}/v1/traces as application/x-protobuf
 */
export class TraceRequestEncoder {
  readonly #pairs = new Map<string, Map<AttributeValue, Buffer> | null>();
  readonly #keys = new Map<string, Buffer>();
  readonly #names = new Map<string, Buffer>();
  readonly #resources = new WeakMap<Resource, Buffer>();
  readonly #scopes = new WeakMap<InstrumentationScope, Buffer>();
  /** Where one span's body is written before its length is known; grows as needed. */
  #scratch = Buffer.allocUnsafe(16 * 1024);
  /** Length of the span body prepareSpan() left in the scratch buffer. */
  #prepared = 0;

  /** The encoded KeyValue field of a recurring pair, or undefined for a value not worth caching. */
  #cachedPair(key: string, v: AttributeValue): Buffer | undefined {
    let values = this.#pairs.get(key);
    if (values === null) return undefined;
    if (values === undefined) this.#pairs.set(key, (values = new Map()));
    let encoded = values.get(v);
    if (encoded === undefined) {
      if (values.size >= MAX_VALUES_PER_KEY) {
        this.#pairs.set(key, null); // a high-cardinality key: encode its values in place from now on
        return undefined;
      }
      encoded = keyValueField(0x4a, key, v);
      values.set(v, encoded);
    }
    return encoded;
  }

  #keyBytes(key: string): Buffer {
    let bytes = this.#keys.get(key);
    if (bytes === undefined) {
      bytes = Buffer.from(key, 'utf8');
      if (this.#keys.size < 1024) this.#keys.set(key, bytes);
    }
    return bytes;
  }

  #name(name: string): Buffer {
    let encoded = this.#names.get(name);
    if (encoded === undefined) {
      encoded = stringField(0x2a, name);
      if (this.#names.size < 1024) this.#names.set(name, encoded);
    }
    return encoded;
  }

  /** Makes room for `need` more bytes after `pos` in the scratch buffer, keeping what is written. */
  #room(pos: number, need: number): Buffer {
    if (this.#scratch.length - pos < need) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#scratch.length * 2, pos + need));
      this.#scratch.copy(bigger, 0, 0, pos);
      this.#scratch = bigger;
    }
    return this.#scratch;
  }

  /** A KeyValue field (Span.attributes = 9) written in place: for values too varied to cache. */
  #writeAttribute(pos: number, key: string, v: AttributeValue): number {
    const keyBytes = this.#keyBytes(key);
    const value = typeof v === 'string' ? undefined : anyValue(v);
    const valueBytes = typeof v === 'string' ? Buffer.byteLength(v) : 0;
    const anyLen = value === undefined ? 1 + varintSize(valueBytes) + valueBytes : value.length;
    const kvLen = 1 + varintSize(keyBytes.length) + keyBytes.length + 1 + varintSize(anyLen) + anyLen;
    const buf = this.#room(pos, 1 + varintSize(kvLen) + kvLen);
    buf[pos++] = 0x4a;
    pos = writeVarint(buf, pos, kvLen);
    buf[pos++] = 0x0a; // key = 1
    pos = writeVarint(buf, pos, keyBytes.length);
    buf.set(keyBytes, pos);
    pos += keyBytes.length;
    buf[pos++] = 0x12; // value = 2
    pos = writeVarint(buf, pos, anyLen);
    if (value !== undefined) {
      buf.set(value, pos);
      return pos + value.length;
    }
    buf[pos++] = 0x0a; // string_value = 1
    pos = writeVarint(buf, pos, valueBytes);
    return pos + buf.write(v as string, pos, valueBytes, 'utf8');
  }

  /** The span's body (without its own tag and length) into the scratch buffer; returns its length. */
  #span(span: ReadableSpan): number {
    const ctx = span.spanContext();
    const traceState = ctx.traceState?.serialize() ?? '';
    const name = this.#name(span.name);
    const { code, message } = span.status;
    // Fixed fields (ids, kind, times, flags: 64 bytes) with tags and varints; strings at 3 bytes a unit.
    let buf = this.#room(0, 100 + name.length + 3 * (traceState.length + (message?.length ?? 0)));
    let pos = 0;
    buf[pos++] = 0x0a; // trace_id = 1
    buf[pos++] = 16;
    pos += buf.write(ctx.traceId, pos, 16, 'hex');
    buf[pos++] = 0x12; // span_id = 2
    buf[pos++] = 8;
    pos += buf.write(ctx.spanId, pos, 8, 'hex');
    if (traceState) {
      const bytes = Buffer.byteLength(traceState);
      buf[pos++] = 0x1a; // trace_state = 3
      pos = writeVarint(buf, pos, bytes);
      pos += buf.write(traceState, pos, bytes, 'utf8');
    }
    const parent = span.parentSpanContext;
    if (parent) {
      buf[pos++] = 0x22; // parent_span_id = 4
      buf[pos++] = 8;
      pos += buf.write(parent.spanId, pos, 8, 'hex');
    }
    buf.set(name, pos); // name = 5 (TypedArray#set: no trip into C++ for a few bytes, unlike Buffer#copy)
    pos += name.length;
    buf[pos++] = 0x30; // kind = 6: the API's SpanKind starts at INTERNAL = 0, OTLP's at UNSPECIFIED = 0
    buf[pos++] = span.kind + 1;
    buf[pos++] = 0x39; // start_time_unix_nano = 7
    pos = writeTime(buf, pos, span.startTime);
    buf[pos++] = 0x41; // end_time_unix_nano = 8
    pos = writeTime(buf, pos, span.endTime);
    const attributes: Attributes = span.attributes;
    for (const key in attributes) {
      const v = attributes[key];
      if (v === undefined || v === null || Array.isArray(v)) continue;
      const cached = this.#cachedPair(key, v as AttributeValue);
      if (cached === undefined) {
        pos = this.#writeAttribute(pos, key, v as AttributeValue);
      } else {
        this.#room(pos, cached.length).set(cached, pos); // attributes = 9
        pos += cached.length;
      }
    }
    buf = this.#room(pos, 32 + 3 * (message?.length ?? 0));
    if (code !== SpanStatusCode.UNSET || message) {
      const messageBytes = message ? Buffer.byteLength(message) : 0;
      const body = (message ? 1 + varintSize(messageBytes) + messageBytes : 0) + (code !== SpanStatusCode.UNSET ? 2 : 0);
      buf[pos++] = 0x7a; // status = 15
      pos = writeVarint(buf, pos, body);
      if (message) {
        buf[pos++] = 0x12; // message = 2
        pos = writeVarint(buf, pos, messageBytes);
        pos += buf.write(message, pos, messageBytes, 'utf8');
      }
      if (code !== SpanStatusCode.UNSET) {
        buf[pos++] = 0x18; // code = 3
        buf[pos++] = code;
      }
    }
    buf[pos++] = 0x85; // flags = 16, fixed32
    buf[pos++] = 0x01;
    buf.writeUInt32LE(spanFlags(ctx.traceFlags, parent), pos);
    return pos + 4;
  }

  /**
   * Encodes one span's body into the scratch buffer and returns the size of its ScopeSpans.spans field (tag,
   * length, body); writePreparedSpan then copies that field into its place. For span-export.ts, which encodes
   * each span as it ends (two calls rather than a closure: nothing is allocated per span).
   */
  prepareSpan(span: ReadableSpan): number {
    this.#prepared = this.#span(span);
    return 1 + varintSize(this.#prepared) + this.#prepared;
  }

  /** Writes the span prepareSpan() encoded at `pos` in `buf` (with room for its size); returns where it ends. */
  writePreparedSpan(buf: Buffer, pos: number): number {
    const length = this.#prepared;
    buf[pos++] = 0x12; // ScopeSpans.spans = 2
    pos = writeVarint(buf, pos, length);
    buf.set(this.#scratch.subarray(0, length), pos);
    return pos + length;
  }

  /**
   * The start of an ExportTraceServiceRequest of one resource and one scope whose ScopeSpans.spans fields
   * (spanField) come after it and take `spansBytes`: the request is this, then those fields.
   */
  requestHead(resource: Resource, scope: InstrumentationScope, spansBytes: number): Buffer {
    const resourceField = this.#resource(resource);
    const scopeField = this.#scope(scope);
    const scopeSpans = scopeField.length + spansBytes;
    const resourceSpans = resourceField.length + 1 + varintSize(scopeSpans) + scopeSpans;
    const head = Buffer.allocUnsafe(2 + varintSize(resourceSpans) + varintSize(scopeSpans) + resourceField.length + scopeField.length);
    let pos = 0;
    head[pos++] = 0x0a; // resource_spans = 1
    pos = writeVarint(head, pos, resourceSpans);
    head.set(resourceField, pos);
    pos += resourceField.length;
    head[pos++] = 0x12; // scope_spans = 2
    pos = writeVarint(head, pos, scopeSpans);
    head.set(scopeField, pos);
    return head;
  }

  /** Nothing follows the spans in protobuf (TraceJsonEncoder closes its brackets here). */
  readonly endBytes = 0;

  writeRequestEnd(_body: Buffer, pos: number): number {
    return pos;
  }

  #resource(resource: Resource): Buffer {
    let encoded = this.#resources.get(resource);
    if (encoded === undefined) {
      const fields: Buffer[] = [];
      for (const [key, v] of Object.entries(resource.attributes)) {
        if (v !== undefined && v !== null && !Array.isArray(v)) fields.push(keyValueField(0x0a, key, v as AttributeValue)); // attributes = 1
      }
      encoded = lenField(0x0a, Buffer.concat(fields)); // ResourceSpans.resource = 1
      this.#resources.set(resource, encoded);
    }
    return encoded;
  }

  #scope(scope: InstrumentationScope): Buffer {
    let encoded = this.#scopes.get(scope);
    if (encoded === undefined) {
      const fields = [stringField(0x0a, scope.name)];
      if (scope.version) fields.push(stringField(0x12, scope.version));
      encoded = lenField(0x0a, Buffer.concat(fields)); // ScopeSpans.scope = 1
      this.#scopes.set(scope, encoded);
    }
    return encoded;
  }

  /** The ScopeSpans.spans fields of these spans, each tag + length + body, in one buffer. */
  #spans(spans: readonly ReadableSpan[]): Buffer {
    let out = Buffer.allocUnsafe(spans.length * 512);
    let pos = 0;
    for (const span of spans) {
      const length = this.#span(span);
      const need = 1 + varintSize(length) + length;
      if (out.length - pos < need) {
        const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + need));
        out.copy(bigger, 0, 0, pos);
        out = bigger;
      }
      out[pos++] = 0x12; // ScopeSpans.spans = 2
      pos = writeVarint(out, pos, length);
      out.set(this.#scratch.subarray(0, length), pos);
      pos += length;
    }
    return out.subarray(0, pos);
  }

  encode(spans: readonly ReadableSpan[]): Buffer {
    // Group by resource, then scope (a reload may change the service name mid-batch).
    const byResource = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
    for (const span of spans) {
      let byScope = byResource.get(span.resource);
      if (byScope === undefined) byResource.set(span.resource, (byScope = new Map()));
      let list = byScope.get(span.instrumentationScope);
      if (list === undefined) byScope.set(span.instrumentationScope, (list = []));
      list.push(span);
    }
    const out: Buffer[] = [];
    for (const [resource, byScope] of byResource) {
      const scopeSpans: Buffer[] = [];
      for (const [scope, list] of byScope) scopeSpans.push(lenField(0x12, Buffer.concat([this.#scope(scope), this.#spans(list)]))); // scope_spans = 2
      out.push(lenField(0x0a, Buffer.concat([this.#resource(resource), ...scopeSpans]))); // resource_spans = 1
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}
