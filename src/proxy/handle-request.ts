// The request lifecycle for one listener: limits → route → forward. Everything a request needs comes from the
// snapshot current when it arrived, held until the exchange ends so a reload never pulls it away mid-flight.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ListenerConfig } from '../config/schema.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import { bodyWithLimit } from './body-limit.ts';
import { clientAddress, isTrusted, peerAddress } from './client-address.ts';
import { Exchange } from './exchange.ts';
import { forwardHeaders } from './forward-headers.ts';
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
    const upstream = route.upstream;
    const hashKey = upstream.hashKeyOf?.(req, peerTrusted ? clientAddress(peer, req.headers['x-forwarded-for'], trusted) : peer);
    const path = route.rewritePath ? route.rewritePath(target.path) : target.path;
    const headers = forwardHeaders(req, route, upstream.targets[0]!.authority, { peer, peerTrusted, proto, requestIdHeader, requestId });

    snapshot.retain();
    const exchange = new Exchange({
      req,
      res,
      route,
      target: upstreamTarget(path, target.query),
      headers,
      requestId,
      requestIdHeader,
      hashKey,
      snapshot,
    });
    if (hasBody) {
      const chunked = req.headers['content-length'] === undefined;
      exchange.setBody(maxBodySize !== undefined && chunked ? bodyWithLimit(req, maxBodySize, () => exchange.abort('payload_too_large')) : req);
    }
    if (expectsContinue) res.writeContinue(); // RFC 9110 §10.1.1: route and limits passed, now ask for the body
    exchange.start();
  };
}
