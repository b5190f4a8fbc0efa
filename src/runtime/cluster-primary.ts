// `sluice start --workers N` (N > 1): the primary owns the config file, the admin listener and the workers.
// Workers bind the proxy ports themselves with SO_REUSEPORT, so the kernel spreads connections and no request
// passes through the primary. A reload is validated here once, then applied by every worker.
import cluster, { type Worker } from 'node:cluster';
import type { Readiness } from '../admin/control.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import { ConfigFile } from '../store/config-file.ts';
import { startAdmin } from './admin-listener.ts';
import type { ToPrimary, ToWorker } from './cluster-messages.ts';
import { ControlPlane } from './control-plane.ts';
import { StartupError } from './errors.ts';

const APPLY_TIMEOUT_MS = 15_000;

class WorkerSet {
  readonly #log: Logger;
  readonly #count: number;
  #current: { config: SluiceConfig; version: number } | undefined;
  #applied = new Map<number, number>(); // worker id → version it runs
  #stopping = false;

  constructor(count: number, log: Logger) {
    this.#count = count;
    this.#log = log;
  }

  start(): void {
    for (let i = 0; i < this.#count; i++) this.#fork();
    cluster.on('exit', (worker, code, signal) => {
      this.#applied.delete(worker.id);
      if (this.#stopping) return;
      this.#log.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting a new one');
      setTimeout(() => this.#fork(), 500).unref();
    });
  }

  #fork(): void {
    const worker = cluster.fork({ SLUICE_WORKER: '1' });
    worker.once('online', () => {
      if (this.#current) void this.#applyTo(worker, this.#current.config, this.#current.version).catch(() => {});
    });
  }

  async apply(config: SluiceConfig, version: number): Promise<void> {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    await Promise.all(workers.map((w) => this.#applyTo(w, config, version)));
    this.#current = { config, version };
  }

  #applyTo(worker: Worker, config: SluiceConfig, version: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`worker ${worker.process.pid} did not apply config ${version} in time`)), APPLY_TIMEOUT_MS);
      const onMessage = (message: ToPrimary) => {
        if (message.version !== version) return;
        done(message.type === 'applied' ? undefined : new Error(message.error));
      };
      const done = (err?: Error) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        if (err) return reject(err);
        this.#applied.set(worker.id, version);
        resolve();
      };
      worker.on('message', onMessage);
      worker.send({ type: 'apply', version, config } satisfies ToWorker);
    });
  }

  readiness(): Readiness {
    const version = this.#current?.version;
    const upToDate = [...this.#applied.values()].filter((v) => v === version).length;
    return { ready: version !== undefined && upToDate === this.#count, detail: { workers: this.#count, workersReady: upToDate } };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map((w) => new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        if (w.isConnected()) w.send({ type: 'shutdown' } satisfies ToWorker);
        else resolve();
      })),
    );
  }
}

export interface RunningPrimary {
  readonly control: ControlPlane;
  close(): Promise<void>;
}

export async function startPrimary(configPath: string, workers: number, log: Logger): Promise<RunningPrimary> {
  const file = new ConfigFile(configPath);
  const set = new WorkerSet(workers, log);
  const control = new ControlPlane(file, set, log);
  // Validate before forking so a bad file fails fast with exit 1 and no worker noise.
  const checked = await file.load();
  if (!checked.ok) {
    const { formatConfigError } = await import('../config/load.ts');
    throw new StartupError(checked.errors.map(formatConfigError).join('\n'), 1);
  }
  set.start();
  const first = await control.reload('start');
  if (!first.ok) {
    await set.stop();
    throw new StartupError(first.errors.join('\n'), 2);
  }
  const admin = await startAdmin(control, control.currentConfig()!.config.admin.address).catch(async (err: unknown) => {
    await set.stop();
    throw err;
  });
  const unwatch = file.watch(() => void control.reload('file change'));
  const onHup = () => void control.reload('SIGHUP');
  process.on('SIGHUP', onHup);
  log.info({ workers, admin: admin.address(), pid: process.pid }, 'sluice started');
  return {
    control,
    async close() {
      unwatch();
      process.off('SIGHUP', onHup);
      admin.close();
      admin.closeAllConnections();
      await set.stop();
    },
  };
}
