// The fault phase, for resilience drills (routes[].faultInjection): a share of requests waits a fixed delay
// before forwarding, a share is answered with the configured status instead of being forwarded (x-sluice-error:
// fault_injected). The delay comes first, as in Envoy's fault filter, and is dropped if the client leaves.
import type { ServerResponse } from 'node:http';
import type { FaultInjector } from '../resilience/fault-injection.ts';
import { sendError } from './send-error.ts';

export interface FaultedRequest {
  res: ServerResponse;
  requestId: string;
  requestIdHeader: string;
  responseHeaders: Record<string, string> | undefined;
}

/**
 * Calls `next` when the request goes on (at once, or after its delay), `stop` when it does not (aborted with the
 * fault's status, or its client left during the delay).
 */
export function faultPhase(faults: FaultInjector, request: FaultedRequest, next: () => void, stop: () => void): void {
  const delay = faults.delayMs();
  if (delay <= 0) return abortOr(faults, request, next, stop);
  const res = request.res;
  const onClose = () => {
    clearTimeout(timer);
    stop();
  };
  const timer = setTimeout(() => {
    res.off('close', onClose);
    abortOr(faults, request, next, stop);
  }, delay);
  res.once('close', onClose);
}

function abortOr(faults: FaultInjector, request: FaultedRequest, next: () => void, stop: () => void): void {
  const status = faults.abortStatus();
  if (status === 0) return next();
  sendError(request.res, 'fault_injected', request.requestId, { requestIdHeader: request.requestIdHeader, headers: request.responseHeaders, status });
  stop();
}
