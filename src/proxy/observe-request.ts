// The logging phase: what a request came to, handed to observability once, when its response closes — whether it
// ended, failed, or its client left first. The exchange fills in the upstream side (target, attempts, time to
// first byte) as it goes. The observation is the RequestRecord itself, so the phase copies nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NOOP_TELEMETRY, type Observability, type RequestRecord, type RequestTelemetry } from '../observability/index.ts';
import { errorCodeOf } from './send-error.ts';

export class RequestObservation implements RequestRecord {
  readonly telemetry: RequestTelemetry;
  readonly listener: string;
  route: string | undefined;
  upstream: string | undefined = undefined;
  target: string | undefined = undefined;
  readonly method: string;
  readonly path: string;
  status = 0;
  errorCode: string | undefined = undefined;
  readonly clientAddress: string;
  readonly requestId: string;
  readonly startTime: number;
  upstreamStart: number | undefined = undefined;
  firstByte: number | undefined = undefined;
  endTime = 0;
  bytesIn = 0;
  bytesOut = 0;
  attempts = 0;
  readonly userAgent: string | undefined;
  /**
   * Run after the record is closed, by the one 'close' listener a response gets: the exchange puts its own
   * close handling here rather than adding a second listener (EventEmitter then keeps an array and copies it on
   * every emit; measured in the gateway, a second listener cost several per cent of throughput).
   */
  afterClose: (() => void) | undefined = undefined;
  readonly #res: ServerResponse;

  constructor(
    telemetry: RequestTelemetry,
    req: IncomingMessage,
    res: ServerResponse,
    facts: { listener: string; route: string | undefined; path: string; clientAddress: string; requestId: string; startTime: number },
  ) {
    this.telemetry = telemetry;
    this.listener = facts.listener;
    this.route = facts.route;
    this.method = req.method!;
    this.path = facts.path;
    this.clientAddress = facts.clientAddress;
    this.requestId = facts.requestId;
    this.startTime = facts.startTime;
    this.userAgent = req.headers['user-agent'];
    const declared = req.headers['content-length'];
    if (declared !== undefined) this.bytesIn = Number(declared) || 0;
    this.#res = res;
    res.on('close', this.#onClose); // 'close' comes once; on() spares once()'s wrapper
  }

  #onClose = (): void => {
    const res = this.#res;
    this.endTime = performance.now();
    // A response cut short (the client left, or Sluice destroyed it mid-body) sent no complete answer.
    this.status = res.headersSent ? res.statusCode : 0;
    this.errorCode ??= errorCodeOf(res);
    this.telemetry.end(this);
    this.afterClose?.();
  };
}

/**
 * Starts a request's telemetry and its logging phase. The route (undefined when none matched) picks the sampler
 * and labels the metrics. With metrics, tracing and the access log all off, there is nothing to observe.
 */
export function observeRequest(
  observability: Observability,
  req: IncomingMessage,
  res: ServerResponse,
  listener: string,
  route: string | undefined,
  path: string,
  clientAddress: string,
  requestId: string,
  startTime: number,
): RequestObservation | undefined {
  const telemetry = observability.startRequest(req.headers, listener, route);
  if (telemetry === NOOP_TELEMETRY) return undefined;
  return new RequestObservation(telemetry, req, res, { listener, route, path, clientAddress, requestId, startTime });
}
