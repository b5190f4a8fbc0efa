// Upgrade requests (WebSocket and any other protocol switch): routed like any request, then, once the upstream
// answers 101, the two sockets are spliced together. An upstream that refuses answers with a normal response,
// which is relayed as is. Upgrades are rare next to plain requests, so this path favours clarity over thrift.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ListenerConfig } from '../config/schema.ts';
import { RequestContext, type PluginHost } from '../plugins/context.ts';
import { upstreamFor } from '../snapshot/route-policies.ts';
import type { CompiledRoute } from '../snapshot/snapshot.ts';
import type { UpstreamTarget } from '../upstream/target.ts';
import { clientAddress, isTrusted, peerAddress } from './client-address.ts';
import { forwardHeaders } from './forward-headers.ts';
import { NO_TRACE_SLOTS, type UpstreamDispatchOptions } from './exchange.ts';
import type { SnapshotSource } from './handle-request.ts';
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';
import { upstreamTarget } from './request-target.ts';
import { incomingRequestId, routeRequest } from './route-request.ts';
import { sendRawError } from './send-error.ts';
import { classifyUpstreamError } from './upstream-errors.ts';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Open tunnels by the server that accepted them. node:http forgets a connection once it is upgraded, so
 * server.closeAllConnections() does not reach tunnels; a graceful stop ends them with closeTunnels() instead.
 */
const tunnelsByServer = new WeakMap<object, Set<Socket>>();

/**
 * Destroys every open tunnel (upgraded connection, both sides) that `server` accepted; returns how many.
 *
 * @example
 * // at the end of a drain, after server.closeAllConnections():
 * closeTunnels(server);
 */
export function closeTunnels(server: object): number {
  const tunnels = tunnelsByServer.get(server);
  if (!tunnels) return 0;
  const count = tunnels.size;
  for (const socket of tunnels) socket.destroy();
  tunnels.clear();
  return count;
}

function trackTunnel(socket: Socket): void {
  const server = (socket as Socket & { server?: object }).server;
  if (!server) return;
  let tunnels = tunnelsByServer.get(server);
  if (!tunnels) tunnelsByServer.set(server, (tunnels = new Set()));
  tunnels.add(socket);
  socket.once('close', () => tunnels.delete(socket));
}

export function createUpgradeHandler(source: SnapshotSource, listener: ListenerConfig, proto: 'http' | 'https'): UpgradeHandler {
  return function handleUpgrade(req, duplex, head) {
    const socket = duplex as Socket;
    socket.on('error', () => socket.destroy());
    const snapshot = source.current;
    const requestIdHeader = snapshot.requestIdHeader;
    const requestId = incomingRequestId(req.headers[requestIdHeader]) ?? randomUUID();
    const routed = routeRequest(snapshot, listener, req);
    if (typeof routed === 'string') return sendRawError(socket, routed, requestId, requestIdHeader);
    const { route, target } = routed;
    const peer = peerAddress(socket.remoteAddress);
    const trusted = snapshot.trustedProxies;
    const peerTrusted = isTrusted(trusted, peer);
    // The same upstream and key as a plain request (handle-request.ts), so a sticky or consistent-hash session keeps
    // its tunnels with it. Tunnels are long-lived and carry no status: circuit breakers neither gate nor count them.
    const clientIp = peerTrusted ? clientAddress(peer, req.headers['x-forwarded-for'], trusted) : peer;
    const upstream = upstreamFor(route, req, clientIp);
    const hashKey = upstream.hashKeyOf?.(req, clientIp);
    const upstreamPick = upstream.pickTarget(hashKey === undefined ? undefined : { hashKey });
    if (!upstreamPick) return sendRawError(socket, 'no_healthy_upstream', requestId, requestIdHeader);

    const headers = forwardHeaders(req, route, upstreamPick.authority, { peer, peerTrusted, proto, requestIdHeader, requestId });
    const path = route.rewritePath ? route.rewritePath(target.path) : target.path;
    const tunnel: TunnelRequest = {
      req,
      res: undefined,
      socket,
      head,
      route,
      upstream,
      pick: upstreamPick,
      target: upstreamTarget(path, target.query),
      headers,
      traceSlots: NO_TRACE_SLOTS,
      requestId,
      requestIdHeader,
      clientIp,
      responseHeaders: undefined,
      observation: undefined,
    };
    const chain = route.plugins?.chainFor(upstream);
    if (chain === undefined) return openTunnel(tunnel);
    // The request phase of the route's plugins runs as for any request (an upgrade must not get around
    // authentication); a plugin's answer goes out raw on the socket. Response and body hooks do not apply.
    const protocol = proto === 'http' && peerTrusted && req.headers['x-forwarded-proto'] === 'https' ? 'https' : proto;
    const verdict = new RequestContext(chain, tunnel, { listener: listener.name, protocol, path: target.path, search: target.query, hasBody: false }).run();
    if (verdict === true) return openTunnel(tunnel);
    if (verdict !== false) void verdict.then((go) => go && !socket.destroyed && openTunnel(tunnel));
  };
}

/** An upgrade request that may open a tunnel: what openTunnel needs, and what the plugin phase may change. */
interface TunnelRequest extends PluginHost {
  readonly socket: Socket;
  readonly head: Buffer;
  readonly route: CompiledRoute;
  readonly pick: UpstreamTarget;
}

/** Sends the upgrade upstream; on 101, splices the two sockets. */
function openTunnel(t: TunnelRequest): void {
  const { req, socket, head, route, pick: upstreamPick, headers, requestId, requestIdHeader } = t;
  upstreamPick.inFlight++;
  let settled = false;
  const settle = () => {
    if (!settled) {
      settled = true;
      upstreamPick.inFlight--;
    }
  };
  // Until the tunnel stands, a client FIN counts as gone: node:http hands the socket over half-open-capable, so
  // without this an upgrade whose client left would still be sent, and answered into the void.
  let clientGone = false;
  let pending: Dispatcher.DispatchController | undefined;
  const onClientGone = () => {
    clientGone = true;
    if (pending && !pending.aborted) pending.abort(new Error('client closed'));
  };
  socket.once('end', onClientGone);
  socket.once('close', onClientGone);
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(controller) {
      // The request may have waited in the pool for a connection; a client gone meanwhile gets no upstream tunnel.
      if (clientGone) return controller.abort(new Error('client closed'));
      pending = controller;
    },
    onRequestUpgrade(_controller, statusCode, upHeaders, upstreamSocket) {
      socket.off('end', onClientGone);
      socket.off('close', onClientGone);
      if (clientGone || socket.destroyed) {
        settle();
        upstreamSocket.destroy();
        return;
      }
      upHeaders[requestIdHeader] ??= requestId;
      socket.write(statusLine(statusCode, 'Switching Protocols') + headerLines(upHeaders) + '\r\n');
      // RFC 9110 §7.8: after the 101 the connection speaks the new protocol. Bytes the client sent with its
      // request (`head`) belong to it and go first; undici has already put back any the upstream sent with its 101.
      if (head.length > 0) upstreamSocket.write(head);
      upstreamSocket.on('error', () => socket.destroy());
      socket.on('error', () => upstreamSocket.destroy());
      // An open tunnel is load on the target: it counts as in flight until it closes.
      upstreamSocket.on('close', () => {
        settle();
        socket.destroy();
      });
      socket.on('close', () => upstreamSocket.destroy());
      trackTunnel(socket);
      upstreamSocket.pipe(socket).pipe(upstreamSocket);
    },
    onResponseStart(controller, statusCode, upHeaders, statusMessage) {
      if (statusCode < 200) return; // an interim answer; the final one follows
      // A refusal (or an upstream that ignores the upgrade): relayed as an ordinary response, delimited by close.
      const named = connectionTokens(upHeaders.connection);
      for (const name in upHeaders) {
        if (HOP_BY_HOP.has(name) || named?.has(name)) delete upHeaders[name];
      }
      upHeaders[requestIdHeader] ??= requestId;
      socket.write(statusLine(statusCode, statusMessage || STATUS_CODES[statusCode] || '') + headerLines(upHeaders) + 'connection: close\r\n\r\n');
      // Backpressure as in the exchange: a large refusal body must not pile up in the client socket's buffer.
      socket.on('drain', () => controller.resume());
    },
    onResponseData(controller, chunk) {
      if (!socket.write(chunk)) controller.pause();
    },
    onResponseEnd() {
      settle();
      socket.end();
    },
    onResponseError(_controller, err) {
      settle();
      if (socket.writable && socket.bytesWritten === 0) sendRawError(socket, classifyUpstreamError(err).code, requestId, requestIdHeader);
      else socket.destroy();
    },
  };
  const options: UpstreamDispatchOptions = {
    path: t.target,
    method: req.method!,
    headers,
    upgrade: req.headers.upgrade ?? 'websocket',
    headersTimeout: route.responseTimeout,
    servername: upstreamPick.servername,
  };
  upstreamPick.pool.dispatch(options, handler);
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
