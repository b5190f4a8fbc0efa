// OTLP/HTTP protobuf log records (POST {endpoint}/v1/logs), encoded by @opentelemetry/otlp-transformer. Each
// access-log line becomes one record: the JSON line is the body, its trace_id/span_id become the record's trace
// context (so a backend joins logs to traces), 5xx and Sluice errors are ERROR, the rest INFO.
import type { HrTime } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import type { AccessLogSinkSettings, SinkBufferSettings } from '../../config/observability-schema.ts';
import { postOtlp } from '../otlp-http.ts';
import { BatchingSink, PermanentSinkError, type Batch, type SinkHooks } from './batching-sink.ts';

export type OtlpLogsSettings = Extract<AccessLogSinkSettings, { otlp: unknown }>['otlp'];
type LogRecords = Parameters<typeof ProtobufLogsSerializer.serializeRequest>[0];
type LogRecord = LogRecords[number];

const SEVERITY_INFO = 9;
const SEVERITY_ERROR = 17;
const SCOPE = { name: 'sluice.access_log' };
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

function msToHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, (ms - seconds * 1000) * 1e6];
}

interface AccessFields {
  trace_id?: unknown;
  span_id?: unknown;
  sampled?: unknown;
  status?: unknown;
  error_code?: unknown;
}

export class OtlpLogsSink extends BatchingSink {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #timeout: number;
  readonly #resource: Resource;

  constructor(name: string, settings: OtlpLogsSettings, resource: Resource, buffer: SinkBufferSettings, hooks: SinkHooks) {
    super(name, buffer, hooks);
    this.#url = `${settings.endpoint.replace(/\/+$/, '')}/v1/logs`;
    this.#headers = { ...settings.headers, 'content-type': 'application/x-protobuf' };
    this.#timeout = settings.timeout;
    this.#resource = resource;
  }

  #record(line: string, time: number): LogRecord {
    const body = line.endsWith('\n') ? line.slice(0, -1) : line;
    let fields: AccessFields = {};
    try {
      fields = JSON.parse(body) as AccessFields;
    } catch {
      // Not JSON: still shipped, as a plain body without trace context.
    }
    const status = typeof fields.status === 'number' ? fields.status : 0;
    const error = status >= 500 || fields.error_code !== undefined;
    const traceId = typeof fields.trace_id === 'string' && HEX32.test(fields.trace_id) ? fields.trace_id : undefined;
    const spanId = typeof fields.span_id === 'string' && HEX16.test(fields.span_id) ? fields.span_id : undefined;
    const hrTime = msToHrTime(time);
    return {
      hrTime,
      hrTimeObserved: hrTime,
      severityNumber: error ? SEVERITY_ERROR : SEVERITY_INFO,
      severityText: error ? 'ERROR' : 'INFO',
      body,
      eventName: 'sluice.access',
      spanContext: traceId !== undefined && spanId !== undefined ? { traceId, spanId, traceFlags: fields.sampled === true ? 1 : 0 } : undefined,
      resource: this.#resource,
      instrumentationScope: SCOPE,
      attributes: {},
      droppedAttributesCount: 0,
    };
  }

  protected async send({ lines, times }: Batch): Promise<void> {
    const records: LogRecord[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) records[i] = this.#record(lines[i]!, times[i]!);
    const body = ProtobufLogsSerializer.serializeRequest(records);
    if (body === undefined) throw new PermanentSinkError('could not encode the log records');
    await postOtlp(this.#url, this.#headers, body, this.#timeout);
  }
}
