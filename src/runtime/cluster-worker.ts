// A cluster worker: a gateway that takes its config from the primary and drains when told to stop.
import type { Logger } from '../observability/logger.ts';
import { Gateway } from '../proxy/gateway.ts';
import type { TelemetryAsk, ToPrimary, ToWorker } from './cluster-messages.ts';
import { gatewayEvents, sinkErrorLogger } from './gateway-events.ts';
import { answerTelemetry } from './telemetry-views.ts';

export function runWorker(log: Logger): void {
  // Local rate-limit buckets live in the primary, so a limit holds across workers (runtime/worker-set.ts).
  // Observability is made from the first config the primary sends (its histogram buckets are fixed then).
  const slot = Number(process.env.SLUICE_WORKER_SLOT) || undefined;
  const gateway = new Gateway({
    ...gatewayEvents(log),
    localRateLimit: 'cluster',
    observabilityOptions: { workerSlot: slot, onSinkError: sinkErrorLogger(log) },
  });
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
    if (message.type === 'telemetry') {
      const observability = gateway.observability;
      if (observability === undefined) return void send({ type: 'telemetry', seq: message.seq, pid: process.pid, answer: emptyAnswer(message.ask) });
      return void answerTelemetry(gateway, observability, message.ask).then(
        (answer) => send({ type: 'telemetry', seq: message.seq, pid: process.pid, answer }),
        (err: Error) => log.warn({ err: err.message }, 'could not answer a telemetry request'),
      );
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

/** What a worker without a config yet has to say. */
function emptyAnswer(ask: TelemetryAsk): unknown {
  return ask.what === 'metrics' ? [] : ask.what === 'traces' ? [] : null;
}
