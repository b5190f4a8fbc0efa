// A service joins the etcd registry (etcd-registry.ts) and stays in it while it lives: its key is put under a
// lease that a heartbeat keeps alive (every TTL/3, as etcd's Go client does). If the process dies, the heartbeat
// stops and etcd removes the key when the TTL runs out; close() removes it at once. A lease lost while etcd was
// away (an outage longer than the TTL) is replaced by a new registration as soon as etcd answers again.
// Exported as `sluice/register`; `sluice register` is the same for a process that cannot import it.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Etcd3, Lease } from 'etcd3';
import { etcdClient, etcdProblem } from '../etcd/client.ts';

export interface RegisterOptions {
  /** etcd client URL(s), e.g. "http://127.0.0.1:2379". */
  etcd: string | string[];
  /** The service name upstreams discover: `discovery: { etcd: { service: NAME } }`. */
  service: string;
  /** This instance's origin, e.g. "http://10.0.0.5:8080". */
  url: string;
  /** Share of traffic relative to the other instances (default 1). */
  weight?: number;
  /** Seconds without a heartbeat after which etcd removes the registration (default 10). */
  ttl?: number;
  /** Registry key prefix (default "/sluice/services/"), as in the upstream's discovery settings. */
  prefix?: string;
  /** For an etcd with authentication enabled. */
  username?: string;
  password?: string;
  /** For https:// endpoints: PEM files of a private CA, and of a client certificate and key when etcd requires one. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** This instance's id in the registry (default: host name, process id and a random suffix). */
  id?: string;
  /** The registration was lost (etcd away longer than the TTL) or could not be renewed; retried every second. */
  onError?: (err: Error) => void;
  /** Registered again after a loss. */
  onRegistered?: () => void;
}

export interface ServiceRegistration {
  /** The etcd key holding this registration. */
  readonly key: string;
  /** Removes the registration at once (revokes the lease) and closes the etcd client. */
  close(): Promise<void>;
}

const SERVICE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ORIGIN = /^https?:\/\/[^/\s?#]+\/?$/;

/**
 * Registers this instance of a service in the etcd registry, with a heartbeat; resolves once it is registered.
 *
 * @example
 * import { register } from 'sluice/register';
 * const registration = await register({ etcd: 'http://127.0.0.1:2379', service: 'users', url: 'http://10.0.0.5:8080' });
 * process.on('SIGTERM', () => void registration.close().then(() => process.exit(0)));
 */
export async function register(options: RegisterOptions): Promise<ServiceRegistration> {
  const { service, url, weight = 1, ttl = 10, prefix = '/sluice/services/' } = options;
  if (!SERVICE.test(service)) throw new TypeError(`service "${service}" is not a service name (letters, digits, "_", "." or "-")`);
  if (!ORIGIN.test(url)) throw new TypeError(`url "${url}" is not an origin such as http://10.0.0.5:8080`);
  if (!Number.isInteger(weight) || weight < 1 || weight > 10_000) throw new TypeError('weight is a whole number from 1 to 10000');
  if (!Number.isInteger(ttl) || ttl < 2 || ttl > 3600) throw new TypeError('ttl is a whole number of seconds from 2 to 3600');
  if (!/^\/(?:\S*\/)?$/.test(prefix)) throw new TypeError(`prefix "${prefix}" must start and end with "/"`);
  const endpoints = typeof options.etcd === 'string' ? [options.etcd] : options.etcd;
  const id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const key = `${prefix}${service}/${id}`;
  const value = JSON.stringify({ url: new URL(url).origin, weight });
  const client = etcdClient({ endpoints, requestTimeout: Math.min(5000, ttl * 500), ...(options.username === undefined ? {} : { username: options.username, password: options.password ?? '' }), ...(options.tls === undefined ? {} : { tls: options.tls }) });
  const registration = new Registration(client, key, value, ttl, options);
  try {
    await registration.grant();
  } catch (err) {
    client.close();
    throw new Error(`cannot register ${key} in etcd at ${endpoints.join(', ')}: ${etcdProblem(err)}`, { cause: err });
  }
  return registration;
}

class Registration implements ServiceRegistration {
  readonly key: string;
  readonly #client: Etcd3;
  readonly #value: string;
  readonly #ttl: number;
  readonly #options: RegisterOptions;
  #lease: Lease | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(client: Etcd3, key: string, value: string, ttl: number, options: RegisterOptions) {
    this.#client = client;
    this.key = key;
    this.#value = value;
    this.#ttl = ttl;
    this.#options = options;
  }

  /** A new lease with the key under it. */
  async grant(): Promise<void> {
    const lease = this.#client.lease(this.#ttl, { autoKeepAlive: true });
    this.#lease = lease;
    lease.on('lost', (err: Error) => {
      if (this.#closed || this.#lease !== lease) return;
      this.#options.onError?.(new Error(`registration ${this.key} lost: ${etcdProblem(err)}`, { cause: err }));
      this.#retry();
    });
    try {
      await lease.put(this.key).value(this.#value);
    } catch (err) {
      void lease.revoke().catch(() => undefined);
      throw err;
    }
  }

  #retry(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#closed) return;
      this.grant().then(
        () => this.#options.onRegistered?.(),
        (err: unknown) => {
          this.#options.onError?.(new Error(`cannot register ${this.key} again: ${etcdProblem(err)}`, { cause: err }));
          this.#retry();
        },
      );
    }, 1000);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      await this.#lease?.revoke();
    } catch {
      // etcd is away: the key goes when its TTL runs out.
    }
    this.#client.close();
  }
}
