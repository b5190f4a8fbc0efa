// Shared by plain requests and upgrades: validate the request line against the listener's limits and find the
// route. Returns the route and the parsed target, or the catalogue code to answer with.
import type { IncomingMessage } from 'node:http';
import type { ListenerConfig } from '../config/schema.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import { hostWithoutPort } from '../routing/route-table.ts';
import type { CompiledRoute, Snapshot } from '../snapshot/snapshot.ts';
import { parseRequestTarget, type RequestTarget } from './request-target.ts';

export interface Routed {
  route: CompiledRoute;
  target: RequestTarget;
}

export function routeRequest(snapshot: Snapshot, listener: ListenerConfig, req: IncomingMessage): Routed | ErrorCode {
  if (req.rawHeaders.length > listener.limits.maxHeaders * 2) return 'header_fields_too_large';
  const url = req.url!;
  if (url.length > listener.limits.maxUrlLength) return 'uri_too_long';
  const target = parseRequestTarget(url);
  if (!target) return 'bad_request';
  const route = snapshot.routeTables.get(listener.name)?.match({
    method: req.method!,
    host: hostWithoutPort(req.headers.host),
    path: target.path,
    query: target.query,
    headers: req.headers,
  });
  return route ? { route, target } : 'route_not_found';
}

/** A client's request id is kept when it is a sane token; anything else is replaced (no log injection). */
export function incomingRequestId(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) return undefined;
  return /^[\x21-\x7e]+$/.test(value) ? value : undefined;
}
