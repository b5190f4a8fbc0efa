// Binds the admin server; a busy admin port is a start-up failure (exit 2), like any listener.
import type http from 'node:http';
import type { AdminControl } from '../admin/control.ts';
import { createAdminServer } from '../admin/server.ts';
import { parseAddress } from '../proxy/listener.ts';
import { StartupError } from './errors.ts';

export async function startAdmin(control: AdminControl, address: string): Promise<http.Server> {
  const server = createAdminServer(control);
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new StartupError(`cannot bind admin listener ${address}: ${(err as Error).message}`, 2)));
    server.listen({ host: host === '' ? undefined : host, port }, resolve);
  });
  return server;
}
