// Upgrade requests (WebSocket and any other protocol switch): routed like any request, then, once the upstream
// answers 101, the two sockets are spliced together. An upstream that refuses answers with a normal response,
// which is relayed as is.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ListenerConfig } from '../config/schema.ts';
import { peerAddress, isTrusted } from './client-address.ts';
import { forwardHeaders } from './forward-headers.ts';
import type { SnapshotSource } from './handle-request.ts';
import { upstreamTarget } from './request-target.ts';
import { incomingRequestId, routeRequest } from './route-request.ts';
import { sendRawError } from './send-error.ts';
import { classifyUpstreamError } from './upstream-errors.ts';
import type { Socket } from 'node:net';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export function createUpgradeHandler(source: SnapshotSource, listener: ListenerConfig, proto: 'http' | 'https'): UpgradeHandler {
  return function handleUpgrade(req, duplex, head) {
    const socket = duplex as Socket;
    socket.on('error', () => socket.destroy());
    const snapshot = source.current;
    const routed = routeRequest(snapshot, listener, req);
    if (typeof routed === 'string') return sendRawError(socket, routed);
    const { route, target } = routed;
    const upstreamPick = route.upstream.pickTarget();
    if (!upstreamPick) return sendRawError(socket, 'no_healthy_upstream');

    const requestIdHeader = snapshot.requestIdHeader;
    const requestId = incomingRequestId(req.headers[requestIdHeader]) ?? randomUUID();
    const peer = peerAddress(socket.remoteAddress);
    const peerTrusted = isTrusted(snapshot.trustedProxies, peer);
    const headers = forwardHeaders(req, route, upstreamPick.authority, { peer, peerTrusted, proto, requestIdHeader, requestId });
    if (route.hostOverride === '') headers[headers.indexOf('host') + 1] = upstreamPick.authority;
    const path = route.rewritePath ? route.rewritePath(target.path) : target.path;

    upstreamPick.inFlight++;
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        upstreamPick.inFlight--;
      }
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        socket.once('close', () => {
          if (!controller.aborted) controller.abort(new Error('client closed'));
        });
      },
      onRequestUpgrade(_controller, statusCode, upHeaders, upstreamSocket) {
        socket.write(statusLine(statusCode, 'Switching Protocols') + headerLines(upHeaders) + '\r\n');
        if (head.length > 0) upstreamSocket.write(head);
        upstreamSocket.on('error', () => socket.destroy());
        socket.on('error', () => upstreamSocket.destroy());
        upstreamSocket.on('close', () => {
          settle();
          socket.destroy();
        });
        socket.on('close', () => upstreamSocket.destroy());
        upstreamSocket.pipe(socket).pipe(upstreamSocket);
      },
      onResponseStart(_controller, statusCode, upHeaders, statusMessage) {
        delete upHeaders.connection;
        delete upHeaders['transfer-encoding'];
        delete upHeaders['keep-alive'];
        socket.write(statusLine(statusCode, statusMessage ?? '') + headerLines(upHeaders) + 'connection: close\r\n\r\n');
      },
      onResponseData(_controller, chunk) {
        socket.write(chunk);
      },
      onResponseEnd() {
        settle();
        socket.end();
      },
      onResponseError(_controller, err) {
        settle();
        if (socket.writable && socket.bytesWritten === 0) sendRawError(socket, classifyUpstreamError(err).code);
        else socket.destroy();
      },
    };
    upstreamPick.pool.dispatch(
      {
        path: upstreamTarget(path, target.query),
        method: req.method!,
        headers,
        upgrade: req.headers.upgrade ?? 'websocket',
        headersTimeout: route.responseTimeout,
      },
      handler,
    );
  };
}

function statusLine(status: number, message: string): string {
  return `HTTP/1.1 ${status} ${message}\r\n`;
}

function headerLines(headers: IncomingHttpHeaders): string {
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out += `${name}: ${v}\r\n`;
  }
  return out;
}
