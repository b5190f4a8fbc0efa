// `sluice start --workers 1`: config source, gateway and admin in one process (no cluster primary in the way).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatConfigError } from '../config/load.ts';
import type { Logger } from '../observability/logger.ts';
import { Gateway } from '../proxy/gateway.ts';
import { ConfigFile } from '../store/config-file.ts';
import { startAdmin, stopAdmin } from './admin-listener.ts';
import { ControlPlane } from './control-plane.ts';
import { StartupError } from './errors.ts';
import { gatewayEvents } from './gateway-events.ts';
import { watchForReloads } from './reload-triggers.ts';

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

  const gateway = new Gateway(gatewayEvents(log));
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
  );
  const admin = await startAdmin(control, checked.config.admin.address, log);
  const first = await control.reload('start');
  if (!first.ok) {
    stopAdmin(admin);
    // The file was valid a moment ago: a failure now is provisioning (a port that cannot be bound) unless the
    // file changed in between.
    throw new StartupError(first.errors.join('\n'), provisionError ? 2 : 1);
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
    },
  };
}
