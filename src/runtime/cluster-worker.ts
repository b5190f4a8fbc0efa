// A cluster worker: a gateway that takes its config from the primary and drains when told to stop.
import type { Logger } from '../observability/logger.ts';
import { Gateway } from '../proxy/gateway.ts';
import type { ToPrimary, ToWorker } from './cluster-messages.ts';

export function runWorker(log: Logger): void {
  const gateway = new Gateway({ onHealthChange: (change) => log.warn(change, change.healthy ? 'target healthy' : 'target unhealthy') });
  const send = (message: ToPrimary) => process.send?.(message);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close();
    process.exit(0);
  };
  process.on('message', (message: ToWorker) => {
    if (message.type === 'shutdown') return void stop();
    gateway.apply(message.config, message.version).then(
      () => send({ type: 'applied', version: message.version }),
      (err: Error) => {
        log.error({ err: err.message, version: message.version }, 'worker could not apply config');
        send({ type: 'apply-failed', version: message.version, error: err.message });
      },
    );
  });
  // The primary coordinates shutdown; a terminal's Ctrl-C reaches the whole group, so ignore it here.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
}
