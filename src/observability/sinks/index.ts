// Builds the configured access-log sinks. Each gets a stable name for its metrics: its kind, then kind-2, kind-3…
// when a kind repeats.
import { extname } from 'node:path';
import type { Writable } from 'node:stream';
import type { Resource } from '@opentelemetry/resources';
import type { AccessLogSettings, AccessLogSinkSettings } from '../../config/observability-schema.ts';
import type { LogSink, SinkHooks } from './batching-sink.ts';
import { FileSink } from './file.ts';
import { LokiSink } from './loki.ts';
import { OtlpLogsSink } from './otlp-logs.ts';
import { StreamSink } from './stream.ts';

export type { LogSink, SinkHooks, SinkOutcome } from './batching-sink.ts';

export interface SinkContext {
  hooks(sinkName: string): SinkHooks;
  resource: Resource;
  /** Labels every Loki stream gets besides its configured ones (the instance). */
  lokiLabels: Record<string, string>;
  stdout?: Writable;
  /** A cluster worker's slot: its file sinks get their own file (see workerFilePath). */
  workerSlot?: number;
}

/** access.log → access-w2.log for worker 2; a name without an extension gets the suffix at the end. */
export function workerFilePath(path: string, slot: number | undefined): string {
  if (slot === undefined) return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}-w${slot}${ext}`;
}

function kindOf(sink: AccessLogSinkSettings): string {
  if (sink === 'stdout') return 'stdout';
  if ('file' in sink) return 'file';
  if ('loki' in sink) return 'loki';
  return 'otlp';
}

export function createSinks(settings: AccessLogSettings, context: SinkContext): LogSink[] {
  const list = Array.isArray(settings.sink) ? settings.sink : [settings.sink];
  const seen = new Map<string, number>();
  return list.map((sink) => {
    const kind = kindOf(sink);
    const n = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, n);
    const name = n === 1 ? kind : `${kind}-${n}`;
    const hooks = context.hooks(name);
    if (sink === 'stdout') return new StreamSink(name, context.stdout ?? process.stdout, settings.buffer, hooks);
    if ('file' in sink) return new FileSink(name, { ...sink.file, path: workerFilePath(sink.file.path, context.workerSlot) }, settings.buffer, hooks);
    if ('loki' in sink) return new LokiSink(name, sink.loki, context.lokiLabels, settings.buffer, hooks);
    return new OtlpLogsSink(name, sink.otlp, context.resource, settings.buffer, hooks);
  });
}
