// Binds the admin server; a busy admin port is a start-up failure (exit 2), like any listener.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminControl } from '../admin/control.ts';
import { createAdminServer } from '../admin/server.ts';
import type { Logger } from '../observability/logger.ts';
import { bindProblem } from '../proxy/gateway.ts';
import { parseAddress } from '../proxy/listener.ts';
import { StartupError } from './errors.ts';

/**
 * Starts the admin listener before the proxy listeners, so /healthz answers and /readyz says 503 while the
 * gateway (or its workers) comes up.
 */
export async function startAdmin(control: AdminControl, address: string, log: Logger): Promise<http.Server> {
  const server = createAdminServer(control);
  const { host, port } = parseAddress(address);
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
