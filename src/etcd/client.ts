// One etcd client, set up for a gateway rather than for a batch job: every request has a deadline, a dead etcd is
// noticed within a second and retried about once a second (etcd3's defaults keep a host's circuit open for 5 s
// and back a broken watch off up to 30 s, which would make an instance catch up late after an outage), and a
// call during an outage fails fast instead of queueing. Shared by the config store (store/) and discovery.
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, isBrokenCircuitError, retry, type IBackoff } from 'cockatiel';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { ClientClosedError, Etcd3, isRecoverableError } from 'etcd3';

export interface EtcdClientOptions {
  endpoints: string[];
  /** Deadline of each unary request, ms. */
  requestTimeout: number;
  /** How long the first connection may take, ms. */
  dialTimeout?: number;
  /** For an etcd with authentication enabled. */
  username?: string;
  password?: string;
  /** PEM files (absolute paths): the CA to trust, and a client certificate when etcd requires one. */
  tls?: { ca?: string; cert?: string; key?: string };
}

/** How soon a host that failed is tried again, and the longest pause between two attempts to re-open a watch. */
const RETRY_AFTER_MS = 500;

/**
 * @example
 * const client = etcdClient({ endpoints: ['http://127.0.0.1:2379'], requestTimeout: 2000 });
 * await client.put('/sluice/x').value('1');
 */
export function etcdClient(options: EtcdClientOptions): Etcd3 {
  return new Etcd3({
    hosts: options.endpoints,
    dialTimeout: options.dialTimeout ?? options.requestTimeout,
    ...(options.username !== undefined && options.password !== undefined ? { auth: { username: options.username, password: options.password } } : {}),
    ...(options.tls === undefined ? {} : { credentials: tlsCredentials(options.tls) }),
    defaultCallOptions: (call) => (call.isStream ? {} : { deadline: Date.now() + options.requestTimeout }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: RETRY_AFTER_MS, breaker: new ConsecutiveBreaker(2) }),
      // One more try on another endpoint, if there is one.
      global: retry(handleWhen(isRecoverableError), { maxAttempts: options.endpoints.length > 1 ? 1 : 0 }),
      // etcd3 calls .next() on this to start (a factory, as its own default is), though its types say IBackoff.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: RETRY_AFTER_MS }) as unknown as IBackoff<unknown>,
    },
  });
}

/**
 * gRPC's TLS credentials from PEM files; without a CA, the system's (read from Node's bundled roots, as gRPC wants
 * the PEM itself). Throws a message naming the file that cannot be read.
 */
function tlsCredentials(tls: NonNullable<EtcdClientOptions['tls']>): { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer } {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read the etcd TLS ${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    rootCertificate: tls.ca === undefined ? Buffer.from(rootCertificates.join('\n')) : read('CA file', tls.ca),
    ...(tls.cert === undefined || tls.key === undefined ? {} : { certChain: read('certificate', tls.cert), privateKey: read('key', tls.key) }),
  };
}

/** The message of an etcd client error, without gRPC's resolution notes. */
export function etcdProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\. Resolution note:.*$/s, '').replace(/^\d+ [A-Z_]+: /, '');
}

/** etcd could not be reached (down, partitioned, too slow, or its circuit is open), as opposed to a refusal. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof Error && (isRecoverableError(err) || isBrokenCircuitError(err) || err instanceof ClientClosedError);
}
