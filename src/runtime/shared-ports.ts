// Workers share a listener by binding the same port with SO_REUSEPORT. A listener on port 0 would give each
// worker a different ephemeral port, so the primary picks the port once and hands every worker the same one,
// and keeps it across reloads while the listener's name and address stay the same.
import net from 'node:net';
import type { SluiceConfig } from '../config/schema.ts';
import { parseAddress } from '../proxy/listener.ts';

export class SharedPorts {
  /** "name address" → the port chosen for it. */
  #chosen = new Map<string, number>();

  /**
   * The config as workers get it: every `host:0` listener resolved to a concrete port. The probe sockets that
   * reserved new ports stay open (with SO_REUSEPORT, so workers can bind beside them) until `settle` is called
   * with the outcome of the apply.
   */
  async resolve(config: SluiceConfig): Promise<{ config: SluiceConfig; settle(applied: boolean): void }> {
    const probes: net.Server[] = [];
    const added: string[] = [];
    const settle = (applied: boolean) => {
      for (const probe of probes) probe.close();
      if (!applied) for (const key of added) this.#chosen.delete(key);
      if (applied) {
        const live = new Set(config.listeners.map((l) => `${l.name} ${l.address}`));
        for (const key of this.#chosen.keys()) if (!live.has(key)) this.#chosen.delete(key);
      }
    };
    try {
      const listeners = [];
      for (const listener of config.listeners) {
        const { host, port } = parseAddress(listener.address);
        if (port !== 0) {
          listeners.push(listener);
          continue;
        }
        const key = `${listener.name} ${listener.address}`;
        let chosen = this.#chosen.get(key);
        if (chosen === undefined) {
          const probe = await reservePort(host);
          probes.push(probe);
          chosen = (probe.address() as net.AddressInfo).port;
          this.#chosen.set(key, chosen);
          added.push(key);
        }
        listeners.push({ ...listener, address: `${listener.address.slice(0, -1)}${chosen}` });
      }
      return { config: { ...config, listeners }, settle };
    } catch (err) {
      settle(false);
      throw err;
    }
  }
}

function reservePort(host: string): Promise<net.Server> {
  // Nobody knows the port yet; a connection that lands here anyway is closed rather than left hanging.
  const probe = net.createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host: host === '' ? undefined : host, port: 0, reusePort: true, exclusive: true }, () => resolve(probe));
  });
}
