// The request head as the upstream sees it: the client's headers in their order and case, minus hop-by-hop
// fields, plus X-Forwarded-*, Forwarded (RFC 7239), the request id, Host and the route's own changes.
import type { IncomingMessage } from 'node:http';
import type { CompiledRoute } from '../snapshot/snapshot.ts';
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';

export interface ForwardFacts {
  peer: string;
  /** The peer is a trusted proxy: its X-Forwarded-* / Forwarded values are extended, not replaced. */
  peerTrusted: boolean;
  proto: 'http' | 'https';
  requestIdHeader: string;
  requestId: string;
  /**
   * Sluice traces this request: the trace headers it writes itself (RequestTelemetry.traceHeaderNames), so the
   * client's are not copied (its trace context became the parent).
   */
  replaced?: ReadonlySet<string>;
}

/** Names Sluice always writes itself, so the client's copies are dropped while copying. */
const REWRITTEN = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'expect']);

/** Where Host sits in the list forwardHeaders returns, so a per-target authority can be written in place. */
export const HOST_VALUE_INDEX = 1;

/**
 * Returns a flat [name, value, …] list, which undici sends as is. Host comes first (RFC 9112 §3.2 asks for it
 * early, and undici writes it first anyway): a fixed slot the exchange overwrites with the target's authority
 * when the route asks for it. Searching the list for "host" instead would match a header *value* "host".
 */
export function forwardHeaders(req: IncomingMessage, route: CompiledRoute, authority: string, facts: ForwardFacts): string[] {
  const raw = req.rawHeaders;
  const headers = req.headers;
  const named = connectionTokens(headers.connection);
  const ops = route.requestHeaders;
  const host = headers.host ?? authority;
  // A Host set by the route's header operations wins over hostHeader (the exchange knows, see #headersFor).
  const upstreamHost = ops?.host ?? (route.hostOverride === undefined ? host : route.hostOverride === '' ? authority : route.hostOverride);
  const out: string[] = ['host', upstreamHost];
  const replaced = facts.replaced;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || REWRITTEN.has(lower) || lower === facts.requestIdHeader) continue;
    if (replaced?.has(lower)) continue;
    if (named?.has(lower) || ops?.remove.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }

  const { peer, peerTrusted, proto } = facts;
  const xff = peerTrusted ? joined(headers['x-forwarded-for']) : undefined;
  out.push('x-forwarded-for', xff ? `${xff}, ${peer}` : peer);
  out.push('x-forwarded-proto', (peerTrusted && joined(headers['x-forwarded-proto'])) || proto);
  out.push('x-forwarded-host', (peerTrusted && joined(headers['x-forwarded-host'])) || host);
  const element = `for=${forwardedNode(peer)};host=${quoted(host)};proto=${proto}`;
  const forwarded = peerTrusted ? joined(headers.forwarded) : undefined;
  out.push('forwarded', forwarded ? `${forwarded}, ${element}` : element);

  out.push(facts.requestIdHeader, facts.requestId);
  if (ops) for (const [name, value] of ops.append) out.push(name, value);
  return out;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** RFC 7239 §6: IPv6 nodes are bracketed and quoted; an unknown peer is "unknown". */
function forwardedNode(address: string): string {
  if (address === '') return 'unknown';
  return address.includes(':') ? `"[${address}]"` : address;
}

/** RFC 7239 §4: a value that is not a token must be a quoted-string. */
function quoted(value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}
