// A fleet for staged-rollout tests: a real etcd, one upstream, and `sluice start` processes that share a prefix,
// each with its own local file (its labels, id, lease TTL, workers). The shared config is built by config(): one
// route per path to the upstream, with fault injection on /one (or on a path of its own) to make a bad version.
// The admin API is asked through an instance that is still running, so a test may kill one.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdServer } from './etcd.ts';
import { startLoad, type LoadRun } from './load.ts';
import { admin, eventually, startSluice, tempDir, type AdminReply, type RunningSluice } from './process.ts';
import { startUpstream, type TestUpstream } from './upstream.ts';

export interface FleetMemberSpec {
  labels: Record<string, string>;
  /** store.etcd.instance.id; default <host name>:<admin port>. */
  id?: string;
  /** `sluice start --workers N` (default 1). */
  workers?: number;
}

export interface FleetOptions {
  members: FleetMemberSpec[];
  /** store.etcd.instance.ttl of every member, e.g. "3s" (default: Sluice's). */
  ttl?: string;
  /** Write an access log to files in the fleet's temp dir (a worker N of an instance writes access-wN.log). */
  accessLog?: boolean;
}

export interface ConfigOptions {
  /** Every request to /one answered 500 without forwarding. */
  bad?: boolean;
  /** A route of its own at this path whose requests are held `delay` before forwarding. */
  slow?: { path: string; delay: string };
  /** The store section's labels (each instance's own file decides; in a candidate they are ignored). */
  labels?: Record<string, string>;
  id?: string;
}

export interface InstanceView {
  id: string;
  labels: Record<string, string>;
  admin: string;
  pid: number;
  configVersion: number;
  rollout?: { id: string; state: string; at: string };
  stats?: { requests: number; errors: number; since: string };
  updatedAt: string;
}

export interface Readyz {
  configVersion: number;
  instance: string;
  rollout?: { id: string; canary: boolean; state?: string };
  workerProcesses?: Array<{ pid: number; version: number }>;
}

export interface RolloutNow {
  rollout: { id: string; state: string; canaries: string[]; decision?: { action: string; reason: string; by: string; at: string; version?: number; requests?: number; p99?: number } };
  canaries: Array<{ id: string; live: boolean; state?: string; requests?: number; p99?: number }>;
  verdict: { action: string; reason: string };
}

export interface AuditEntry {
  action: string;
  actor: string;
  message?: string;
  version?: number;
  result: string;
}

export class RolloutFleet {
  readonly etcd: EtcdServer;
  readonly up: TestUpstream;
  readonly temp: { dir: string; remove(): void };
  readonly prefix: string;
  readonly options: FleetOptions;
  /** In the order of options.members. */
  members: RunningSluice[] = [];

  private constructor(etcd: EtcdServer, up: TestUpstream, temp: { dir: string; remove(): void }, options: FleetOptions) {
    this.etcd = etcd;
    this.up = up;
    this.temp = temp;
    this.options = options;
    this.prefix = `/sluice-rollout-${process.pid}-${Math.random().toString(36).slice(2, 8)}/`;
  }

  /** Starts etcd, the upstream and every member; resolves once all are registered in etcd. */
  static async start(options: FleetOptions): Promise<RolloutFleet> {
    const etcd = await EtcdServer.start();
    const up = await startUpstream('app');
    const fleet = new RolloutFleet(etcd, up, tempDir('sluice-rollout-'), options);
    const files = options.members.map((m, i) => {
      const file = join(fleet.temp.dir, `sluice-${i + 1}.yaml`);
      writeFileSync(file, fleet.config(['/one'], { labels: m.labels, ...(m.id === undefined ? {} : { id: m.id }) }));
      return file;
    });
    const started = await Promise.allSettled(files.map((file, i) => startSluice(file, { timeoutMs: 30_000, workers: options.members[i]!.workers ?? 1 })));
    fleet.members = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await fleet.stop();
      throw failed.reason;
    }
    await eventually(async () => ((await fleet.instances()).length === options.members.length ? true : undefined), 10_000);
    return fleet;
  }

  /** The shared config: one route per path; the store section is the instance's own (labels, id, ttl). */
  config(paths: string[], options: ConfigOptions = {}): string {
    const fault = options.bad ? ', faultInjection: { abort: { status: 500, percent: 100 } }' : '';
    const routes = paths.map((p) => `  - { name: r${p.replaceAll('/', '-')}, match: { pathPrefix: ${p} }, upstream: app${p === '/one' ? fault : ''} }`);
    if (options.slow) routes.push(`  - { name: slow, match: { pathPrefix: ${options.slow.path} }, upstream: app, faultInjection: { delay: { duration: ${options.slow.delay}, percent: 100 } } }`);
    const labels = Object.entries(options.labels ?? { zone: 'a' }).map(([k, v]) => `${k}: ${v}`).join(', ');
    const instance = [`labels: { ${labels} }`, ...(options.id ? [`id: ${options.id}`] : []), ...(this.options.ttl ? [`ttl: ${this.options.ttl}`] : [])].join(', ');
    const accessLog = this.options.accessLog
      ? `observability: { accessLog: { sink: { file: { path: "${this.accessLogPath()}" } }, buffer: { flushInterval: 100ms } } }\n`
      : '';
    return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: app
    targets: [{ url: "${this.up.url}" }]
routes:
${routes.join('\n')}
${accessLog}admin: { address: "127.0.0.1:0" }
store: { etcd: { endpoints: ["${this.etcd.url}"], prefix: "${this.prefix}", instance: { ${instance} } } }
`;
  }

  /** The access log's base path; a worker N writes beside it as access-wN.log. */
  accessLogPath(worker?: number): string {
    return join(this.temp.dir, worker === undefined ? 'access.log' : `access-w${worker}.log`);
  }

  /** The members still running. */
  live(): RunningSluice[] {
    return this.members.filter((s) => s.proc.exitStatus === undefined);
  }

  #via(via?: RunningSluice): string {
    const s = via ?? this.live()[0];
    if (!s) throw new Error('no member of the fleet is running');
    return s.adminUrl;
  }

  async instances(via?: RunningSluice): Promise<InstanceView[]> {
    return (await admin(this.#via(via), '/api/v1/instances')).body.instances as InstanceView[];
  }

  /** The instance id of each member, in member order (ids are host:admin-port by default). */
  async ids(): Promise<string[]> {
    const all = await this.instances();
    return this.members.map((s) => all.find((i) => i.admin.endsWith(`:${s.adminPort}`))?.id ?? `(gone: admin port ${s.adminPort})`);
  }

  async ready(s: RunningSluice): Promise<Readyz> {
    return (await admin(s.adminUrl, '/readyz')).body as unknown as Readyz;
  }

  async versions(via?: RunningSluice): Promise<Array<{ version: number; source: string; message: string }>> {
    return (await admin(this.#via(via), '/api/v1/config/versions')).body.versions as never;
  }

  async rolloutNow(via?: RunningSluice): Promise<RolloutNow> {
    return (await admin(this.#via(via), '/api/v1/rollouts/current')).body as unknown as RolloutNow;
  }

  /** Polls the current rollout until it has ended in `state`. */
  ended(state: 'promoted' | 'rolled-back', timeoutMs = 30_000): Promise<RolloutNow> {
    return eventually(async () => {
      const now = await this.rolloutNow();
      return now.rollout.state === state ? now : undefined;
    }, timeoutMs, 50);
  }

  async audit(via?: RunningSluice): Promise<AuditEntry[]> {
    return (await admin(this.#via(via), '/api/v1/audit?limit=50')).body.entries as AuditEntry[];
  }

  /** Starts a rollout through the admin API; rejects unless it answers 201. */
  async startRollout(body: Record<string, unknown>, via?: RunningSluice): Promise<{ id: string; canaries: string[] }> {
    const res = await admin(this.#via(via), '/api/v1/rollouts', { method: 'POST', headers: { 'content-type': 'application/json', 'x-sluice-author': 'ci' }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`POST /api/v1/rollouts answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.rollout as { id: string; canaries: string[] };
  }

  /** Ends the observing rollout by hand (POST /api/v1/rollouts/current/abort). */
  abort(via?: RunningSluice): Promise<AdminReply> {
    return admin(this.#via(via), '/api/v1/rollouts/current/abort', { method: 'POST', headers: { 'content-type': 'application/json', 'x-sluice-author': 'ci' }, body: '{}' });
  }

  /** Who holds `<prefix>rollout/lock` (the controller), read from etcd itself; undefined when nobody does. */
  async lockHolder(): Promise<string | undefined> {
    const client = new Etcd3({ hosts: this.etcd.url });
    try {
      return (await client.get(`${this.prefix}rollout/lock`).string()) ?? undefined;
    } finally {
      client.close();
    }
  }

  /** Traffic at the given members (default: every live one); answers other than 200 are the load's failures. */
  load(paths = ['/one'], members = this.live()): LoadRun[] {
    return members.map((s) => startLoad({ url: s.url(), paths, concurrency: 2, maxDurationMs: 60_000, maxRequests: 200_000 }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((s) => s.proc.stop()));
    await this.up?.close();
    await this.etcd?.stop();
    this.temp.remove();
  }
}
