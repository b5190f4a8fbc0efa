// `sluice start --workers N` (N > 1): the primary owns the config file, the admin listener and the workers.
// Workers bind the proxy ports themselves with SO_REUSEPORT, so the kernel spreads connections and no request
// passes through the primary. A reload is validated here once, then applied by every worker (worker-set.ts).
import type { AddressInfo } from 'node:net';
import { formatConfigError } from '../config/load.ts';
import { createObservability } from '../observability/index.ts';
import type { Logger } from '../observability/logger.ts';
import { ConfigFile } from '../store/config-file.ts';
import { startAdmin, stopAdmin } from './admin-listener.ts';
import { ControlPlane } from './control-plane.ts';
import { joinFleet } from './fleet.ts';
import { adminAuth, openControlStore } from './control-store.ts';
import { StartupError } from './errors.ts';
import { watchForReloads } from './reload-triggers.ts';
import { clusterTelemetry } from './telemetry-views.ts';
import { WorkerSet } from './worker-set.ts';

/** Time a worker gets beyond its drain timeout before the primary kills it. */
const STOP_MARGIN_MS = 5_000;

export interface RunningPrimary {
  readonly control: ControlPlane;
  close(): Promise<void>;
}

export async function startPrimary(configPath: string, workers: number, log: Logger): Promise<RunningPrimary> {
  const file = new ConfigFile(configPath);
  // Validate before forking so a bad file fails fast with exit 1 and no worker noise.
  const checked = await file.load();
  if (!checked.ok) throw new StartupError(checked.errors.map(formatConfigError).join('\n'), 1);
  const auth = adminAuth(file, checked.config, log);
  // Staged rollouts read the workers' request metrics, as /metrics does (the set is created just below).
  const stores = await openControlStore(file, checked.config, log, () => set.metricSources());

  const set = new WorkerSet(workers, log, { maxLocalKeys: checked.config.server.rateLimit.maxLocalKeys });
  // The primary serves no requests: it records only what it alone knows (reloads, the version) and its process.
  const { observability: settings } = checked.config;
  const own = createObservability({ ...settings, tracing: { ...settings.tracing, enabled: false }, accessLog: { ...settings.accessLog, enabled: false } });
  let provisionFailed = false;
  const control = new ControlPlane(
    file,
    {
      apply: (config, version) =>
        set.apply(config, version).then(
          () => own.metrics.setConfigVersion(version),
          (err: unknown) => {
            provisionFailed = true;
            throw err;
          },
        ),
      readiness: () => set.readiness(),
      upstreams: () => set.upstreams(),
    },
    log,
    stores,
  );
  // The admin listener comes first: /readyz answers 503 while the workers start.
  const telemetry = clusterTelemetry((ask) => set.telemetry(ask), own.metrics, () => control.reloads);
  const admin = await startAdmin(control, checked.config.admin.address, log, telemetry, auth);
  let leave = async () => {};
  const abort = async (message: string, exitCode: 1 | 2): Promise<never> => {
    await leave();
    stopAdmin(admin);
    await set.stop(STOP_MARGIN_MS);
    await own.close();
    throw new StartupError(message, exitCode);
  };
  try {
    await set.start();
  } catch (err) {
    await abort(`cannot start the workers: ${(err as Error).message}`, 2);
  }
  try {
    leave = await joinFleet(stores.fleet, control, admin.address() as AddressInfo);
  } catch (err) {
    await abort(`cannot register this instance in etcd: ${(err as Error).message}`, 2);
  }
  const first = await control.reload('start');
  if (!first.ok) await abort(first.errors.join('\n'), provisionFailed || first.kind === 'store' ? 2 : 1);

  const unwatch = watchForReloads(file, control, log);
  log.info({ workers, listeners: set.readiness().detail.listeners, admin: admin.address() }, 'sluice started');
  return {
    control,
    async close() {
      unwatch();
      stopAdmin(admin);
      await set.stop(set.drainTimeout + STOP_MARGIN_MS);
      await leave();
      await control.close();
      await own.close();
    },
  };
}
