// A cluster worker: a gateway that takes its config from the primary and drains when told to stop.
import type { Logger } from '../observability/logger.ts';
import { Gateway } from '../proxy/gateway.ts';
import type { ToPrimary, ToWorker } from './cluster-messages.ts';
import { gatewayEvents } from './gateway-events.ts';

export function runWorker(log: Logger): void {
  // Local rate-limit buckets live in the primary, so a limit holds across workers (runtime/worker-set.ts).
  const gateway = new Gateway({ ...gatewayEvents(log), localRateLimit: 'cluster' });
  const send = (message: ToPrimary) => process.send?.(message);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close();
    process.exit(0);
  };
  // Applies run one at a time, in the order the primary sent them.
  let applying: Promise<void> = Promise.resolve();
  process.on('message', (message: ToWorker) => {
    if (message.type === 'shutdown') return void stop();
    if (message.type === 'report') {
      return void send({ type: 'report', seq: message.seq, pid: process.pid, upstreams: gateway.upstreamReport(), overload: gateway.overloadReport() });
    }
    // Other messages (rate-limit answers) have their own listeners.
    if (message.type !== 'apply' || stopping) return;
    const { seq, version, config } = message;
    applying = applying.then(() =>
      gateway.apply(config, version).then(
        () => void send({ type: 'applied', seq, version, listeners: gateway.addresses() }),
        (err: Error) => {
          // The primary reports the failure once for the whole cluster; this line is for debugging one worker.
          log.debug({ err: err.message, version }, 'worker could not apply config');
          send({ type: 'apply-failed', seq, version, error: err.message });
        },
      ),
    );
  });
  // The primary coordinates shutdown and reloads; a terminal's Ctrl-C or hang-up reaches the whole process group,
  // so ignore both here.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', () => void stop());
  // The primary is gone (crashed or killed): nobody will send a config or a shutdown any more.
  process.on('disconnect', () => void stop());
  send({ type: 'ready' });
}
