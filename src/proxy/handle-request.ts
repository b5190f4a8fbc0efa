// The request lifecycle for one listener, in named phases: gateway admission (overload) → limits → route →
// request filters (the plugin chain, faults) → request body (buffered when retries may replay it) → the exchange
// (upstream admission, target, forward, response: exchange.ts). Everything a request needs comes from the
// snapshot current when it arrived, held until the exchange ends so a reload never pulls it away mid-flight.
// A route that configures no policy goes straight from routing to the exchange.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { ListenerConfig } from '../config/schema.ts';
import { RequestContext } from '../plugins/context.ts';
import { prepareBodyForRetry } from '../resilience/retry-replay.ts';
import { upstreamFor } from '../snapshot/route-policies.ts';
import type { CompiledRoute, Snapshot } from '../snapshot/snapshot.ts';
import { admitToGateway } from './admission.ts';
import { bodyWithLimit } from './body-limit.ts';
import { clientAddress, isTrusted, peerAddress } from './client-address.ts';
import { Exchange, NO_TRACE_SLOTS, type ExchangeRequest } from './exchange.ts';
import { faultPhase } from './fault-phase.ts';
import { forwardHeaders } from './forward-headers.ts';
import { upstreamTarget } from './request-target.ts';
import { observeRequest } from './observe-request.ts';
import { incomingRequestId, routeRequest } from './route-request.ts';
import { sendError } from './send-error.ts';

export interface SnapshotSource {
  readonly current: Snapshot;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse, expectsContinue?: boolean) => void;

export function createRequestHandler(source: SnapshotSource, listener: ListenerConfig, proto: 'http' | 'https'): RequestHandler {
  return function handleRequest(req, res, expectsContinue = false) {
    const startTime = performance.now();
    const snapshot = source.current;
    const observability = snapshot.observability;
    const requestIdHeader = snapshot.requestIdHeader;
    const requestId = incomingRequestId(req.headers[requestIdHeader]) ?? randomUUID();
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';

    if (snapshot.overload !== undefined) {
      const shed = admitToGateway(snapshot.overload, res);
      if (shed !== undefined) {
        if (observability !== undefined) {
          observability.metrics.countShed(listener.name, shed);
          observeRequest(observability, req, res, listener.name, undefined, pathOf(req.url), peerAddress(req.socket.remoteAddress), requestId, startTime);
        }
        return sendError(res, 'overloaded', requestId, { close: hasBody && !expectsContinue, requestIdHeader });
      }
    }
    const routed = routeRequest(snapshot, listener, req);
    if (typeof routed === 'string') {
      if (observability !== undefined) {
        observeRequest(observability, req, res, listener.name, undefined, pathOf(req.url), peerAddress(req.socket.remoteAddress), requestId, startTime);
      }
      // An unread body would be parsed as the next request: close unless the client is still waiting for 100.
      return sendError(res, routed, requestId, { close: hasBody && !expectsContinue, requestIdHeader });
    }
    const { route, target } = routed;
    const peer = peerAddress(req.socket.remoteAddress);
    const trusted = snapshot.trustedProxies;
    const peerTrusted = trusted !== undefined && isTrusted(trusted, peer);
    const clientIp = peerTrusted ? clientAddress(peer, req.headers['x-forwarded-for'], trusted) : peer;
    const observation = observability === undefined
      ? undefined
      : observeRequest(observability, req, res, listener.name, route.name, target.path, clientIp, requestId, startTime);

    const maxBodySize = route.maxBodySize;
    if (maxBodySize !== undefined && Number(req.headers['content-length'] ?? 0) > maxBodySize) {
      return sendError(res, 'payload_too_large', requestId, { close: !expectsContinue, requestIdHeader });
    }

    const upstream = upstreamFor(route, req, clientIp);
    const path = route.rewritePath ? route.rewritePath(target.path) : target.path;
    const trace = observation === undefined ? NO_TRACE_HEADERS : observation.telemetry.upstreamTraceHeaders(0);
    const replaced = trace.length > 0 ? observation!.telemetry.traceHeaderNames : undefined;
    // A discovered upstream may have no target yet: the exchange then answers 503 before the Host is sent.
    const headers = forwardHeaders(req, route, upstream.targets[0]?.authority ?? '', { peer, peerTrusted, proto, requestIdHeader, requestId, replaced });
    // The trace headers name the attempt's client span: the exchange rewrites their values for each retry.
    let traceSlots = NO_TRACE_SLOTS;
    if (trace.length > 0) {
      traceSlots = [];
      for (let i = 0; i < trace.length; i++) {
        traceSlots.push(headers.length + 1);
        headers.push(trace[i]![0], trace[i]![1]);
      }
    }

    snapshot.retain();
    const x: ExchangeRequest = {
      req,
      res,
      route,
      upstream,
      target: upstreamTarget(path, target.query),
      headers,
      requestId,
      requestIdHeader,
      hashKey: upstream.hashKeyOf?.(req, clientIp),
      clientIp,
      responseHeaders: undefined,
      snapshot,
      observation,
      traceSlots,
      plugins: undefined,
    };
    if (route.plugins === undefined && route.faults === undefined) return forward(x, hasBody, expectsContinue);
    const chain = route.plugins?.chainFor(upstream);
    if (chain !== undefined) {
      // Behind a trusted proxy that terminated TLS, the client's scheme is the one it reports.
      const protocol = proto === 'http' && peerTrusted && req.headers['x-forwarded-proto'] === 'https' ? 'https' : proto;
      x.plugins = new RequestContext(chain, x, { listener: listener.name, protocol, path: target.path, search: target.query, hasBody });
    }
    requestFilters(route, x, hasBody, expectsContinue);
  };
}

/**
 * The request-filter phase: the plugin chain (auth, rate limits, transforms: plugins/context.ts), then the route's
 * faults, then on to forward(). A request they stop has been answered (401, 429, an injected fault…) or its client
 * left; then the snapshot is let go. No closure is made unless a filter has to wait (a plugin that awaits, a
 * shared rate-limit store, a fault's delay).
 */
function requestFilters(route: CompiledRoute, x: ExchangeRequest, hasBody: boolean, expectsContinue: boolean): void {
  const plugins = x.plugins;
  if (plugins !== undefined) {
    const verdict = plugins.run();
    if (verdict === false) return x.snapshot.release();
    if (verdict !== true) {
      void verdict.then((go) => {
        // The client may have left while a plugin waited (a key set being fetched, a shared rate-limit store).
        if (go && !x.res.destroyed) faultsThenForward(route, x, hasBody, expectsContinue);
        else x.snapshot.release();
      });
      return;
    }
  }
  faultsThenForward(route, x, hasBody, expectsContinue);
}

function faultsThenForward(route: CompiledRoute, x: ExchangeRequest, hasBody: boolean, expectsContinue: boolean): void {
  if (route.faults === undefined) return forward(x, hasBody, expectsContinue);
  faultPhase(
    route.faults,
    x,
    () => forward(x, hasBody, expectsContinue),
    () => x.snapshot.release(),
  );
}

/**
 * The request body, then the exchange. A body streams to the upstream unbuffered, unless the route may retry
 * this request: then a body within retries.bufferBody is read first, so a retry can send it again.
 */
function forward(x: ExchangeRequest, hasBody: boolean, expectsContinue: boolean): void {
  const exchange = new Exchange(x);
  const { req, res, route } = x;
  if (hasBody) {
    const maxBodySize = route.maxBodySize;
    const declared = req.headers['content-length'];
    let body: Readable = maxBodySize !== undefined && declared === undefined ? bodyWithLimit(req, maxBodySize, () => exchange.abort('payload_too_large')) : req;
    let contentLength = declared === undefined ? undefined : Number(declared);
    const plugins = x.plugins;
    if (plugins !== undefined && plugins.changesBody) {
      // A plugin transformed the body, limited it, or read it whole (then it is a buffer, and 100 went out already).
      const changed = plugins.upstreamBody(body, () => exchange.abort('payload_too_large'));
      if (Buffer.isBuffer(changed)) {
        exchange.setBody(changed);
        return exchange.start();
      }
      body = changed;
      if (plugins.transformsBody) contentLength = undefined;
    }
    if (exchange.buffersBody(contentLength)) {
      if (expectsContinue) res.writeContinue(); // RFC 9110 §10.1.1: route and limits passed, now ask for the body
      prepareBodyForRetry(body, route.retry!.bufferBody, contentLength).then(
        (prepared) => {
          exchange.setBody(prepared.body);
          exchange.start();
        },
        () => res.destroy(), // the client went away mid-upload; the exchange ends with its response
      );
      return;
    }
    exchange.setBody(body);
  }
  if (expectsContinue) res.writeContinue();
  exchange.start();
}

const NO_TRACE_HEADERS: ReadonlyArray<[string, string]> = [];

/** The path of a request target, for logs and traces of requests that never reached a route. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

