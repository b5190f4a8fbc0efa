// An OpenTelemetry SpanExporter for OTLP/HTTP protobuf, fed by the SDK's BatchSpanProcessor. It exists for the
// encoder (otlp-encode.ts, several times cheaper than otlp-transformer's on Sluice's spans); the rest follows the
// OTLP/HTTP specification as @opentelemetry/exporter-trace-otlp-proto does: POST {endpoint}/v1/traces with
// Content-Type application/x-protobuf, optional gzip, retries of 429/502/503/504 and of connection failures with
// exponential backoff and jitter (honouring Retry-After), all within the export's time budget.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { TraceRequestEncoder } from './otlp-encode.ts';

const gzip = promisify(gzipCallback);
const RETRYABLE = new Set([429, 502, 503, 504]);
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

export interface OtlpHttpSettings {
  endpoint: string;
  headers: Record<string, string>;
  compression: 'none' | 'gzip';
  /** Time budget of one export, retries included (ms). */
  timeout: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export class OtlpHttpSpanExporter implements SpanExporter {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #gzip: boolean;
  readonly #timeout: number;
  readonly #encoder = new TraceRequestEncoder();
  #shutdown = false;

  constructor(settings: OtlpHttpSettings) {
    this.#url = `${settings.endpoint.replace(/\/+$/, '')}/v1/traces`;
    this.#gzip = settings.compression === 'gzip';
    this.#headers = { ...settings.headers, 'content-type': 'application/x-protobuf' };
    if (this.#gzip) this.#headers['content-encoding'] = 'gzip';
    this.#timeout = settings.timeout;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.#shutdown) {
      done({ code: ExportResultCode.FAILED, error: new Error('the exporter is shut down') });
      return;
    }
    let body: Buffer;
    try {
      body = this.#encoder.encode(spans);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err as Error });
      return;
    }
    this.#send(body).then(
      () => done({ code: ExportResultCode.SUCCESS }),
      (error: Error) => done({ code: ExportResultCode.FAILED, error }),
    );
  }

  async #send(raw: Buffer): Promise<void> {
    const deadline = Date.now() + this.#timeout;
    const body = this.#gzip ? await gzip(raw) : raw;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`OTLP export to ${this.#url} ran out of its ${this.#timeout} ms`);
      let retryAfterMs: number | undefined;
      let failure: Error;
      try {
        const res = await fetch(this.#url, { method: 'POST', headers: this.#headers, body, signal: AbortSignal.timeout(left) });
        const text = res.ok ? '' : (await res.text()).slice(0, 300);
        if (res.ok) {
          await res.body?.cancel();
          return;
        }
        failure = new Error(`OTLP receiver answered ${res.status}: ${text}`);
        if (!RETRYABLE.has(res.status)) throw failure;
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
      } catch (err) {
        const error = err as Error;
        // A receiver that answered no (4xx) or a spent budget (the fetch timed out) is final; a refused or reset
        // connection is worth another try.
        if (error.name === 'TimeoutError' || error.message.startsWith('OTLP receiver answered')) throw error;
        failure = error;
      }
      const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt);
      const delay = retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2);
      if (delay >= deadline - Date.now()) throw failure;
      await sleep(delay);
    }
  }

  async shutdown(): Promise<void> {
    this.#shutdown = true;
  }

  async forceFlush(): Promise<void> {}
}
