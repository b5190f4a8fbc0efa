// The audit log of a fleet that shares its config through etcd: one key per entry under <prefix>audit/, named by
// time so that key order is time order, so `GET /api/v1/audit` on any instance shows the writes made through
// every instance. The oldest entries beyond MAX_ENTRIES are removed now and then.
import { randomBytes } from 'node:crypto';
import { Range, type Etcd3 } from 'etcd3';
import { etcdProblem, isUnreachable } from '../etcd/client.ts';
import type { AuditEntry, AuditTrail } from './audit-log.ts';
import { StoreUnavailableError } from './version-store.ts';

const MAX_ENTRIES = 10_000;
/** Appends between two checks of the log's length. */
const TRIM_EVERY = 100;

export class EtcdAuditLog implements AuditTrail {
  readonly path: string;
  readonly #client: Etcd3;
  readonly #prefix: string;
  #appends = 0;

  constructor(client: Etcd3, prefix: string, location: string) {
    this.#client = client;
    this.#prefix = `${prefix}audit/`;
    this.path = `${location}audit/`;
  }

  async append(entry: AuditEntry): Promise<void> {
    const time = Date.parse(entry.time);
    // Random suffix: two instances writing in the same millisecond keep both entries.
    const key = `${this.#prefix}${String(Number.isNaN(time) ? Date.now() : time).padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
    await this.#client.put(key).value(JSON.stringify(entry));
    if (++this.#appends % TRIM_EVERY === 0) await this.#trim();
  }

  async read(limit = 100): Promise<AuditEntry[]> {
    let newest: Record<string, string>;
    try {
      newest = await this.#client.getAll().prefix(this.#prefix).sort('Key', 'Descend').limit(limit).strings();
    } catch (err) {
      if (isUnreachable(err)) throw new StoreUnavailableError(`the audit log (${this.path}) cannot be read: ${etcdProblem(err)}`);
      throw err;
    }
    return Object.keys(newest)
      .sort()
      .map((key) => JSON.parse(newest[key]!) as AuditEntry);
  }

  async #trim(): Promise<void> {
    const count = await this.#client.getAll().prefix(this.#prefix).count();
    if (count <= MAX_ENTRIES) return;
    const oldest = await this.#client.getAll().prefix(this.#prefix).sort('Key', 'Ascend').limit(count - MAX_ENTRIES).keys();
    const last = oldest[oldest.length - 1];
    if (last !== undefined) await this.#client.delete().range(new Range(this.#prefix, `${last}\0`));
  }
}
