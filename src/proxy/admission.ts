// Gateway admission, the first thing a request meets after its head is parsed: the process's overload guard
// (requests in flight, event-loop delay, heap). A shed request is answered 503 `overloaded` before any routing
// work is spent on it. Upstream admission (the upstream's breaker and adaptive limit) comes later, in the
// exchange, once the upstream is known.
import type { ServerResponse } from 'node:http';
import type { OverloadGuard, ShedReason } from '../resilience/overload.ts';

/**
 * Why the guard sheds this request (it is counted), or undefined after counting it in flight until its response
 * closes.
 *
 * @example
 * const shed = snapshot.overload && admitToGateway(snapshot.overload, res);
 * if (shed) return sendError(res, 'overloaded', requestId);
 */
export function admitToGateway(guard: OverloadGuard, res: ServerResponse): ShedReason | undefined {
  const shed = guard.shouldShed();
  if (shed !== undefined) return shed;
  guard.requestStarted();
  res.once('close', () => guard.requestFinished());
  return undefined;
}
