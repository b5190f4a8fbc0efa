// The request lifecycle for one listener, in named phases: gateway admission (overload) → limits → route →
// request filters (rate limit, faults) → request body (buffered when retries may replay it) → the exchange
// (upstream admission, target, forward, response: exchange.ts). Everything a request needs comes from the
// snapshot current when it arrived, held until the exchange ends so a reload never pulls it away mid-flight.
// A route that configures no policy goes straight from routing to the exchange.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ListenerConfig } from '../config/schema.ts';
import { prepareBodyForRetry } from '../resilience/retry-replay.ts';
import { upstreamFor } from '../snapshot/route-policies.ts';
import type { CompiledRoute, Snapshot } from '../snapshot/snapshot.ts';
import { admitToGateway } from './admission.ts';
import { bodyWithLimit } from './body-limit.ts';
import { clientAddress, isTrusted, peerAddress } from './client-address.ts';
import { Exchange, type ExchangeRequest } from './exchange.ts';
import { faultPhase } from './fault-phase.ts';
import { forwardHeaders } from './forward-headers.ts';
import { rateLimitPhase } from './rate-limit-phase.ts';
import { upstreamTarget } from './request-target.ts';
import { incomingRequestId, routeRequest } from './route-request.ts';
import { sendError } from './send-error.ts';

export interface SnapshotSource {
  readonly current: Snapshot;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse, expectsContinue?: boolean) => void;

export function createRequestHandler(source: SnapshotSource, listener: ListenerConfig, proto: 'http' | 'https'): RequestHandler {
  return function handleRequest(req, res, expectsContinue = false) {
    const snapshot = source.current;
    const requestIdHeader = snapshot.requestIdHeader;
    const requestId = incomingRequestId(req.headers[requestIdHeader]) ?? randomUUID();
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';

    if (snapshot.overload !== undefined && admitToGateway(snapshot.overload, res) !== undefined) {
      return sendError(res, 'overloaded', requestId, { close: hasBody && !expectsContinue, requestIdHeader });
    }
    const routed = routeRequest(snapshot, listener, req);
    if (typeof routed === 'string') {
      // An unread body would be parsed as the next request: close unless the client is still waiting for 100.
      return sendError(res, routed, requestId, { close: hasBody && !expectsContinue, requestIdHeader });
    }
    const { route, target } = routed;
    const maxBodySize = route.maxBodySize;
    if (maxBodySize !== undefined && Number(req.headers['content-length'] ?? 0) > maxBodySize) {
      return sendError(res, 'payload_too_large', requestId, { close: !expectsContinue, requestIdHeader });
    }

    const peer = peerAddress(req.socket.remoteAddress);
    const trusted = snapshot.trustedProxies;
    const peerTrusted = trusted !== undefined && isTrusted(trusted, peer);
    const clientIp = peerTrusted ? clientAddress(peer, req.headers['x-forwarded-for'], trusted) : peer;
    const upstream = upstreamFor(route, req, clientIp);
    const path = route.rewritePath ? route.rewritePath(target.path) : target.path;
    const headers = forwardHeaders(req, route, upstream.targets[0]!.authority, { peer, peerTrusted, proto, requestIdHeader, requestId });

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
    };
    if (route.rateLimit === undefined && route.faults === undefined) return forward(x, hasBody, expectsContinue);
    requestFilters(route, x, hasBody, expectsContinue);
  };
}

/**
 * The request-filter phase: the route's rate limit, then its faults, then on to forward(). A request they stop has
 * been answered (429, an injected fault) or its client left; then the snapshot is let go. No closure is made
 * unless a filter has to wait (a shared rate-limit store, a fault's delay).
 */
function requestFilters(route: CompiledRoute, x: ExchangeRequest, hasBody: boolean, expectsContinue: boolean): void {
  if (route.rateLimit !== undefined) {
    const verdict = rateLimitPhase(route.rateLimit, x);
    if (verdict === false) return x.snapshot.release();
    if (verdict !== true) {
      void verdict.then((allowed) => {
        // The client may have left while a shared store answered.
        if (allowed && !x.res.destroyed) faultsThenForward(route, x, hasBody, expectsContinue);
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
    const body = maxBodySize !== undefined && declared === undefined ? bodyWithLimit(req, maxBodySize, () => exchange.abort('payload_too_large')) : req;
    const contentLength = declared === undefined ? undefined : Number(declared);
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
