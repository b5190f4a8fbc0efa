// Binds the admin server; a busy admin port is a start-up failure (exit 2), like any listener.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackAddress, type AdminAuth } from '../admin/auth.ts';
import type { AdminControl } from '../admin/control.ts';
import { createAdminServer } from '../admin/server.ts';
import type { TelemetryView } from '../admin/telemetry-view.ts';
import type { Logger } from '../observability/logger.ts';
import { bindProblem } from '../proxy/gateway.ts';
import { parseAddress } from '../proxy/listener.ts';
import { StartupError } from './errors.ts';

/**
 * Starts the admin listener before the proxy listeners, so /healthz answers and /readyz says 503 while the
 * gateway (or its workers) comes up. Without an admin token it binds only a loopback address: anyone who can
 * reach it could otherwise rewrite the gateway's config.
 */
export async function startAdmin(control: AdminControl, address: string, log: Logger, telemetry: TelemetryView | undefined, auth: AdminAuth): Promise<http.Server> {
  const { host, port } = parseAddress(address);
  if (!auth.enabled && !isLoopbackAddress(host.toLowerCase())) {
    throw new StartupError(
      `admin.address ${address} is not a loopback address and no admin token is configured: set SLUICE_ADMIN_TOKEN or admin.tokenFile, or keep the admin on 127.0.0.1`,
      1,
    );
  }
  const server = createAdminServer(control, telemetry, { auth, log });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new StartupError(`cannot bind the admin listener to ${address}: ${bindProblem(err)}; set admin.address in the config`, 2)),
    );
    server.listen({ host: host === '' ? undefined : host, port }, resolve);
  });
  const info = server.address() as AddressInfo;
  log.info({ admin: { address: info.address, port: info.port } }, 'admin listening');
  return server;
}

export function stopAdmin(server: http.Server): void {
  server.close();
  server.closeAllConnections();
}
