// `sluice start --workers 1`: config source, gateway and admin in one process (no cluster primary in the way).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatConfigError } from '../config/load.ts';
import type { Logger } from '../observability/logger.ts';
import { createObservability } from '../observability/index.ts';
import { PluginProvisionError } from '../plugins/registry.ts';
import { Gateway } from '../proxy/gateway.ts';
import { ConfigFile } from '../store/config-file.ts';
import { startAdmin, stopAdmin } from './admin-listener.ts';
import { ControlPlane } from './control-plane.ts';
import { joinFleet } from './fleet.ts';
import { adminAuth, openControlStore } from './control-store.ts';
import { StartupError } from './errors.ts';
import { gatewayEvents, sinkErrorLogger } from './gateway-events.ts';
import { watchForReloads } from './reload-triggers.ts';
import { processTelemetry } from './telemetry-views.ts';

export interface RunningSluice {
  readonly gateway: Gateway;
  readonly control: ControlPlane;
  readonly admin: http.Server;
  adminPort(): number;
  /** Graceful: stop accepting, drain in-flight requests up to the drain timeout. */
  close(): Promise<void>;
}

export async function startSingle(configPath: string, log: Logger): Promise<RunningSluice> {
  const file = new ConfigFile(configPath);
  // Validate before anything binds: a bad file fails with exit 1 and no side effects.
  const checked = await file.load();
  if (!checked.ok) throw new StartupError(checked.errors.map(formatConfigError).join('\n'), 1);
  const auth = adminAuth(file, checked.config, log);
  // Staged rollouts read this process's request metrics (observability is created just below; read later).
  const stores = await openControlStore(file, checked.config, log, async () => [{ id: String(process.pid), startedAt: performance.timeOrigin, snapshot: await observability.metrics.snapshot() }]);

  const observability = createObservability(checked.config.observability, { onSinkError: sinkErrorLogger(log) });
  const gateway = new Gateway({ ...gatewayEvents(log), observability });
  let provisionError: Error | undefined;
  const control = new ControlPlane(
    file,
    {
      apply: async (config, version) => {
        try {
          await gateway.apply(config, version);
        } catch (err) {
          provisionError = err as Error;
          throw err;
        }
      },
      readiness: () => ({ ready: gateway.version > 0, detail: { listeners: gateway.version > 0 ? gateway.addresses() : [] } }),
      upstreams: async () => ({ upstreams: gateway.upstreamReport(), overload: gateway.overloadReport() }),
    },
    log,
    stores,
  );
  const admin = await startAdmin(control, checked.config.admin.address, log, processTelemetry(gateway, observability, () => control.reloads), auth);
  let leave: () => Promise<void>;
  try {
    leave = await joinFleet(stores.fleet, control, admin.address() as AddressInfo);
  } catch (err) {
    stopAdmin(admin);
    await observability.close();
    await control.close();
    throw new StartupError(`cannot register this instance in etcd: ${(err as Error).message}`, 2);
  }
  const first = await control.reload('start');
  if (!first.ok) {
    await leave();
    stopAdmin(admin);
    await observability.close();
    // The file was valid a moment ago: a failure now is provisioning (a port that cannot be bound) unless the
    // file changed in between.
    await control.close();
    // A plugin that cannot be loaded or configured is a mistake in the input, like the config itself.
    const runtimeFailure = provisionError !== undefined && !(provisionError instanceof PluginProvisionError && provisionError.invalidInput);
    throw new StartupError(first.errors.join('\n'), runtimeFailure || first.kind === 'store' ? 2 : 1);
  }
  const unwatch = watchForReloads(file, control, log);
  log.info({ listeners: gateway.addresses(), admin: admin.address() }, 'sluice started');
  return {
    gateway,
    control,
    admin,
    adminPort: () => (admin.address() as AddressInfo).port,
    async close() {
      unwatch();
      stopAdmin(admin);
      await gateway.close();
      await leave();
      await control.close();
      await observability.close();
    },
  };
}
