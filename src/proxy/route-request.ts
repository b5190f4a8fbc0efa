// Shared by plain requests and upgrades: validate the request head (framing, Host, limits) and find the route.
// node:http's parser (llhttp) already rejects most malformed heads; requestHeadError closes the gaps it leaves
// open, and routeRequest returns the route and the parsed target, or the catalogue code to answer with.
import type { IncomingMessage } from 'node:http';
import type { ListenerConfig } from '../config/schema.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import { hostWithoutPort } from '../routing/route-table.ts';
import type { CompiledRoute, Snapshot } from '../snapshot/snapshot.ts';
import { isValidAuthority, parseRequestTarget, type RequestTarget } from './request-target.ts';

export interface Routed {
  route: CompiledRoute;
  target: RequestTarget;
}

/**
 * Checks on the request head that llhttp does not make, run once per request before routing (listener.ts).
 * Any answer here means the connection must close: the head is hostile or its framing is in doubt.
 * Node keeps at most maxHeaders + 1 fields (listener.ts sets maxHeadersCount), so more means too many.
 */
export function requestHeadError(req: IncomingMessage, maxHeaders: number): ErrorCode | undefined {
  // RFC 9112 §2.3: only HTTP/1.0 and 1.1 are spoken here. llhttp also accepts "GET /" (HTTP/0.9) and HTTP/2.x.
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor > 1) return 'bad_request';
  const raw = req.rawHeaders;
  if (raw.length > maxHeaders * 2) return 'header_fields_too_large';
  let hosts = 0;
  let host = '';
  let transferEncodings = 0;
  let transferEncoding = '';
  let contentLengths = 0;
  let contentLength = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Compare lower-cased names only for the three lengths that matter: the common header pays one switch.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          hosts++;
          host = raw[i + 1]!;
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          contentLengths++;
          contentLength = raw[i + 1]!;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          transferEncodings++;
          transferEncoding = raw[i + 1]!;
        }
        break;
    }
  }
  // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, with more than one, or with an invalid value.
  if (hosts > 1 || (hosts === 0 && req.httpVersionMinor === 1)) return 'bad_request';
  if (hosts === 1 && host !== '' && !isValidAuthority(host)) return 'bad_request';
  if (transferEncodings > 0) {
    // RFC 9112 §6.1: a Transfer-Encoding in an HTTP/1.0 message means faulty framing, even with Content-Length.
    if (req.httpVersionMinor === 0) return 'bad_request';
    // RFC 9112 §6.3 (3) and §11.2: Content-Length beside Transfer-Encoding is the classic smuggling shape
    // (CL.TE / TE.CL). llhttp rejects it today; the check stays so no parser leniency can reopen it.
    if (contentLengths > 0) return 'bad_request';
    // Sluice decodes exactly one coding, "chunked" (case-insensitive, RFC 9112 §7). Anything else — a second
    // field line, "gzip, chunked", "identity, chunked" — is framing another hop may read differently (TE.TE,
    // §11.2), and RFC 9112 §6.1 lets a server refuse codings it does not implement. nginx and Envoy refuse too.
    if (transferEncodings > 1 || trimOws(transferEncoding).toLowerCase() !== 'chunked') return 'bad_request';
  }
  // RFC 9112 §6.3 (5): several or non-numeric Content-Length values are unrecoverable framing errors.
  // llhttp rejects these already (even "5, 5"); kept for the same reason as above.
  if (contentLengths > 1 || (contentLengths === 1 && !/^\d+$/.test(contentLength))) return 'bad_request';
  return undefined;
}

/** Routes a request whose head passed requestHeadError. */
export function routeRequest(snapshot: Snapshot, listener: ListenerConfig, req: IncomingMessage): Routed | ErrorCode {
  const url = req.url!;
  if (url.length > listener.limits.maxUrlLength) return 'uri_too_long';
  const target = parseRequestTarget(url);
  if (!target) return 'bad_request';
  // RFC 9112 §3.2.2: for an absolute-form target the authority in it wins over the Host header. Writing it into
  // Host makes routing, the Host forwarded upstream and X-Forwarded-Host all agree on one host.
  if (target.authority !== undefined) req.headers.host = target.authority;
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

/** RFC 9110 §5.5: a field value excludes leading and trailing whitespace (SP and HTAB). */
function trimOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}
