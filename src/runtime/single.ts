// `sluice start --workers 1`: config source, gateway and admin in one process (no cluster primary in the way).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observability/logger.ts';
import { Gateway } from '../proxy/gateway.ts';
import { ConfigFile } from '../store/config-file.ts';
import { startAdmin } from './admin-listener.ts';
import { ControlPlane } from './control-plane.ts';
import { StartupError } from './errors.ts';

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
  const gateway = new Gateway({ onHealthChange: (change) => log.warn(change, change.healthy ? 'target healthy' : 'target unhealthy') });
  let bindError: Error | undefined;
  const control = new ControlPlane(
    file,
    {
      apply: async (config, version) => {
        try {
          await gateway.apply(config, version);
        } catch (err) {
          bindError = err as Error;
          throw err;
        }
      },
      readiness: () => ({ ready: gateway.version > 0, detail: { listeners: gateway.version > 0 ? gateway.addresses() : [] } }),
    },
    log,
  );
  const first = await control.reload('start');
  if (!first.ok) throw new StartupError(first.errors.join('\n'), bindError ? 2 : 1);
  const admin = await startAdmin(control, gateway.current.config.admin.address).catch(async (err: unknown) => {
    await gateway.close(0);
    throw err;
  });
  const unwatch = file.watch(() => void control.reload('file change'));
  const onHup = () => void control.reload('SIGHUP');
  process.on('SIGHUP', onHup);
  log.info({ listeners: gateway.addresses(), admin: admin.address(), pid: process.pid }, 'sluice started');
  return {
    gateway,
    control,
    admin,
    adminPort: () => (admin.address() as AddressInfo).port,
    async close() {
      unwatch();
      process.off('SIGHUP', onHup);
      admin.close();
      admin.closeAllConnections();
      await gateway.close();
    },
  };
}
