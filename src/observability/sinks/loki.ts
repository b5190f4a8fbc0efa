// The Loki push API (POST /loki/api/v1/push, JSON): one stream with the configured fixed labels, one value per
// line with its own nanosecond timestamp. Request data stays in the line: labels are never per request.
import type { AccessLogSinkSettings, SinkBufferSettings } from '../../config/observability-schema.ts';
import { BatchingSink, PermanentSinkError, type Batch, type SinkHooks } from './batching-sink.ts';

export type LokiSettings = Extract<AccessLogSinkSettings, { loki: unknown }>['loki'];

export class LokiSink extends BatchingSink {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #labels: Record<string, string>;
  readonly #timeout: number;

  constructor(name: string, settings: LokiSettings, extraLabels: Record<string, string>, buffer: SinkBufferSettings, hooks: SinkHooks) {
    super(name, buffer, hooks);
    this.#url = `${settings.url.replace(/\/+$/, '')}/loki/api/v1/push`;
    this.#headers = { ...settings.headers, 'content-type': 'application/json' };
    if (settings.tenant !== undefined) this.#headers['x-scope-orgid'] = settings.tenant;
    this.#labels = { ...extraLabels, ...settings.labels };
    this.#timeout = settings.timeout;
  }

  protected async send({ lines, times }: Batch): Promise<void> {
    const values = new Array<[string, string]>(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      values[i] = [`${times[i]}000000`, line.endsWith('\n') ? line.slice(0, -1) : line];
    }
    const body = JSON.stringify({ streams: [{ stream: this.#labels, values }] });
    const res = await fetch(this.#url, { method: 'POST', headers: this.#headers, body, signal: AbortSignal.timeout(this.#timeout) });
    const text = res.ok ? '' : (await res.text()).slice(0, 300);
    if (res.ok) {
      await res.body?.cancel();
      return;
    }
    const message = `Loki answered ${res.status}: ${text}`;
    // 429 and 5xx are worth another try; any other 4xx (bad labels, entry too old) would fail the same way again.
    if (res.status === 429 || res.status >= 500) throw new Error(message);
    throw new PermanentSinkError(message);
  }
}
