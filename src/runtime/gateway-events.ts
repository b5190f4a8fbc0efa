// What a gateway reports about its upstreams and stores, turned into log lines: one per transition (a target
// going unhealthy, a circuit opening, an ejection, a store outage starting or ending, discovery finding new
// targets or failing), never one per request.
import type { Logger } from '../observability/logger.ts';
import type { GatewayOptions } from '../proxy/gateway.ts';

export function gatewayEvents(log: Logger): GatewayOptions {
  return {
    // Plugins log through it (plugin failures, their own lines).
    log,
    onHealthChange: (change) => log.warn(change, change.healthy ? 'target healthy' : 'target unhealthy'),
    onCircuitChange: (change) => {
      const what = change.target === undefined ? 'upstream circuit' : 'target circuit';
      if (change.to === 'open') log.warn(change, `${what} open`);
      else log.info(change, `${what} ${change.to}`);
    },
    onOutlierChange: (change) => {
      if (change.ejected) log.warn(change, 'target ejected');
      else log.info(change, 'target returned');
    },
    onDiscovery: (event) => {
      if (event.targets !== undefined) log.info(event, 'upstream targets discovered');
      else if (event.error !== undefined) log.warn(event, 'discovery failing; the last known targets stay');
      else log.info(event, 'discovery works again');
    },
    onOutage: (outage) => {
      // A shadow upstream (mirror:NAME) only loses its copies; a rate-limit store leaves its failure mode to decide.
      const consequence = outage.store.startsWith('mirror:') ? 'copies are dropped' : 'failure mode applies';
      if (outage.down) log.error(outage, `${outage.store} unreachable; ${consequence}`);
      else log.info(outage, `${outage.store} reachable again`);
    },
  };
}

/** An access-log sink that starts failing is logged once, and once more when it recovers. */
export function sinkErrorLogger(log: Logger): (sink: string, error: Error | undefined) => void {
  return (sink, error) => {
    if (error !== undefined) log.error({ sink, err: error.message }, 'access-log sink failing; lines are retried, then dropped and counted');
    else log.info({ sink }, 'access-log sink recovered');
  };
}
