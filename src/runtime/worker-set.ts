// The cluster primary's workers: forks them, hands each the current config, replaces the ones that die, and stops
// them all on shutdown. As an Applier, a config is in service only once every worker runs it; when one worker
// cannot apply it, the others are rolled back so the cluster never serves two configs for long. The primary also
// holds the local rate-limit buckets of every worker (so a limit is exact across workers) and answers their takes.
import cluster, { type Worker } from 'node:cluster';
import type { Readiness, UpstreamsView } from '../admin/control.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import type { BoundAddress } from '../proxy/gateway.ts';
import { serveRateLimitTakes } from '../resilience/rate-limit/cluster-store.ts';
import { LocalRateLimitStore } from '../resilience/rate-limit/local-store.ts';
import type { MetricSource } from '../rollout/window-stats.ts';
import type { TelemetryAsk, ToPrimary, ToWorker, WorkerReport } from './cluster-messages.ts';
import type { Applier } from './control-plane.ts';
import { SharedPorts } from './shared-ports.ts';
import { mergeWorkerViews } from './upstream-views.ts';

const APPLY_TIMEOUT_MS = 15_000;
/** How long GET /api/v1/upstreams waits for a worker's view. */
const REPORT_TIMEOUT_MS = 2_000;
const START_TIMEOUT_MS = 20_000;
/** A worker that died within this long of its start counts as a crash loop: its replacement waits longer. */
const QUICK_CRASH_MS = 5_000;

interface WorkerState {
  readonly worker: Worker;
  readonly slot: number;
  readonly forkedAt: number;
  /** The worker listens for messages (it sent 'ready'). */
  ready: boolean;
  /** Config version the worker runs; undefined until its first apply. */
  version: number | undefined;
  listeners: BoundAddress[];
}

export class WorkerSet implements Applier {
  readonly #count: number;
  readonly #log: Logger;
  readonly #states = new Map<number, WorkerState>();
  readonly #ports = new SharedPorts();
  readonly #restarts = new Set<NodeJS.Timeout>();
  /** The config every worker runs (listener ports resolved), and its version. */
  #current: { config: SluiceConfig; version: number } | undefined;
  #seq = 0;
  #started = false;
  #stopping = false;
  #quickCrashes = 0;
  /** The `store: local` rate-limit buckets of every worker. */
  readonly #buckets: LocalRateLimitStore;

  /** `maxLocalKeys`: server.rateLimit.maxLocalKeys of the config the primary starts with. */
  constructor(count: number, log: Logger, options: { maxLocalKeys?: number } = {}) {
    this.#count = count;
    this.#log = log;
    this.#buckets = new LocalRateLimitStore({ maxKeys: options.maxLocalKeys });
  }

  /** Forks the workers; resolves once every one of them listens for messages. */
  async start(): Promise<void> {
    cluster.on('exit', this.#onExit);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the workers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all(Array.from({ length: this.#count }, () => this.#fork())), timeout]);
    } finally {
      clearTimeout(timer);
    }
    this.#started = true;
  }

  /** The lowest slot (1…N) no live worker holds: a replacement takes its predecessor's. */
  #freeSlot(): number {
    const taken = new Set([...this.#states.values()].map((s) => s.slot));
    let slot = 1;
    while (taken.has(slot)) slot++;
    return slot;
  }

  #fork(): Promise<void> {
    const slot = this.#freeSlot();
    // The slot names what a worker writes on its own, e.g. its access-log file (access-w2.log).
    const worker = cluster.fork({ SLUICE_WORKER: '1', SLUICE_WORKER_SLOT: String(slot) });
    const state: WorkerState = { worker, slot, forkedAt: Date.now(), ready: false, version: undefined, listeners: [] };
    this.#states.set(worker.id, state);
    // Without a listener, an IPC error (a message sent as the worker dies) would end the primary.
    worker.on('error', (err: Error) => this.#log.warn({ worker: worker.process.pid, err: err.message }, 'worker IPC error'));
    serveRateLimitTakes(worker, this.#buckets);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) => reject(new Error(`worker ${worker.process.pid} exited while starting (${signal ?? `exit code ${code}`})`));
      worker.once('exit', onExit);
      worker.on('message', (message: ToPrimary) => {
        if (message.type !== 'ready' || state.ready) return;
        state.ready = true;
        worker.off('exit', onExit);
        resolve();
        if (this.#current) void this.#catchUp(state);
      });
    });
  }

  #onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const state = this.#states.get(worker.id);
    this.#states.delete(worker.id);
    if (this.#stopping || !this.#started || !state) return;
    this.#quickCrashes = Date.now() - state.forkedAt < QUICK_CRASH_MS ? this.#quickCrashes + 1 : 0;
    const delay = Math.min(10_000, 500 * 2 ** this.#quickCrashes);
    this.#log.error({ worker: worker.process.pid, code, signal, restartIn: delay }, 'worker exited; starting a new one');
    const timer = setTimeout(() => {
      this.#restarts.delete(timer);
      if (this.#stopping) return;
      this.#fork().catch((err: Error) => this.#log.error({ err: err.message }, 'replacement worker failed'));
    }, delay);
    this.#restarts.add(timer);
  };

  /** A worker that joined (a replacement) gets the running config. */
  async #catchUp(state: WorkerState): Promise<void> {
    const current = this.#current;
    if (!current || state.version === current.version) return;
    try {
      await this.#applyTo(state, current.config, current.version);
    } catch (err) {
      this.#log.error({ worker: state.worker.process.pid, version: current.version, err: (err as Error).message }, 'worker could not take the running config');
    }
  }

  async apply(config: SluiceConfig, version: number): Promise<void> {
    const { config: resolved, settle } = await this.#ports.resolve(config);
    const targets = [...this.#states.values()].filter((s) => s.ready && s.worker.isConnected());
    const results = await Promise.allSettled(targets.map((s) => this.#applyTo(s, resolved, version)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      settle(false);
      const previous = this.#current;
      const took = targets.filter((_s, i) => results[i]!.status === 'fulfilled');
      if (previous && took.length > 0) {
        this.#log.warn({ version, rollbackTo: previous.version, workers: took.map((s) => s.worker.process.pid) }, 'rolling back workers that took the rejected config');
        await Promise.allSettled(took.map((s) => this.#applyTo(s, previous.config, previous.version)));
      }
      throw failure.reason;
    }
    settle(true);
    this.#current = { config: resolved, version };
    // Workers that became ready while this apply ran were given the previous config.
    for (const state of this.#states.values()) if (state.ready && !targets.includes(state)) void this.#catchUp(state);
  }

  #applyTo(state: WorkerState, config: SluiceConfig, version: number): Promise<void> {
    const { worker } = state;
    const seq = ++this.#seq;
    if (!worker.isConnected()) return Promise.resolve(); // gone: its replacement gets the config that is current
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`worker ${worker.process.pid} did not apply config version ${version} within ${APPLY_TIMEOUT_MS / 1000} s`)), APPLY_TIMEOUT_MS);
      const onMessage = (message: ToPrimary) => {
        if ((message.type !== 'applied' && message.type !== 'apply-failed') || message.seq !== seq) return;
        if (message.type === 'apply-failed') return done(new Error(message.error));
        state.version = version;
        state.listeners = message.listeners;
        done();
      };
      // A worker that dies meanwhile says nothing about the config: its replacement is given whatever is current.
      const onExit = () => done();
      const done = (err?: Error) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      // A channel that closed meanwhile is the worker dying: 'exit' follows, and onExit settles this.
      worker.send({ type: 'apply', seq, version, config } satisfies ToWorker, undefined, undefined, () => {});
    });
  }

  readiness(): Readiness {
    const version = this.#current?.version;
    const states = [...this.#states.values()];
    const upToDate = states.filter((s) => version !== undefined && s.version === version);
    return {
      ready: version !== undefined && upToDate.length >= this.#count,
      detail: {
        workers: this.#count,
        workersReady: upToDate.length,
        listeners: upToDate[0]?.listeners ?? [],
        workerProcesses: states.map((s) => ({ pid: s.worker.process.pid, version: s.version ?? 0 })),
      },
    };
  }

  /** Every worker's view of its upstreams, and a merged one; a worker that does not answer in time is listed as such. */
  async upstreams(): Promise<UpstreamsView> {
    const states = [...this.#states.values()].filter((s) => s.ready && s.worker.isConnected());
    const views = await Promise.all(states.map((s) => this.#report(s.worker)));
    return mergeWorkerViews(views);
  }

  /** Every ready worker's answer to a telemetry question; workers that do not answer in time are left out. */
  async telemetry(ask: TelemetryAsk): Promise<unknown[]> {
    const states = [...this.#states.values()].filter((s) => s.ready && s.worker.isConnected());
    const answers = await Promise.all(states.map((s) => this.#ask(s.worker, (seq) => ({ type: 'telemetry', seq, ask }), 'telemetry')));
    return answers.flatMap((a) => ('error' in a ? [] : [a.answer]));
  }

  /** Every ready worker's metrics snapshot with its pid and fork time (staged rollouts count per worker). */
  async metricSources(): Promise<MetricSource[]> {
    const states = [...this.#states.values()].filter((s) => s.ready && s.worker.isConnected());
    const answers = await Promise.all(states.map((s) => this.#ask(s.worker, (seq) => ({ type: 'telemetry', seq, ask: { what: 'metrics' } }), 'telemetry')));
    return answers.flatMap((a, i) => ('error' in a ? [] : [{ id: String(a.pid), startedAt: states[i]!.forkedAt, snapshot: a.answer as unknown[] }]));
  }

  #report(worker: Worker): Promise<WorkerReport | { pid: number; error: string }> {
    return this.#ask(worker, (seq) => ({ type: 'report', seq }), 'report');
  }

  /** One question to one worker, paired with its answer by seq; a missing answer becomes an error entry. */
  #ask<K extends 'report' | 'telemetry'>(
    worker: Worker,
    question: (seq: number) => ToWorker,
    type: K,
  ): Promise<Extract<ToPrimary, { type: K }> | { pid: number; error: string }> {
    const seq = ++this.#seq;
    const pid = worker.process.pid ?? 0;
    type Answer = Extract<ToPrimary, { type: K }> | { pid: number; error: string };
    return new Promise((resolve) => {
      const timer = setTimeout(() => done({ pid, error: `no answer within ${REPORT_TIMEOUT_MS} ms` }), REPORT_TIMEOUT_MS);
      const onMessage = (message: ToPrimary) => {
        if (message.type === type && 'seq' in message && message.seq === seq) done(message as Extract<ToPrimary, { type: K }>);
      };
      const done = (answer: Answer) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve(answer);
      };
      worker.on('message', onMessage);
      worker.send(question(seq), undefined, undefined, (err) => {
        if (err) done({ pid, error: 'the worker is gone' });
      });
    });
  }

  /** Asks every worker to drain and exit; after graceMs the ones still running are killed. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#restarts) clearTimeout(timer);
    this.#restarts.clear();
    const states = [...this.#states.values()];
    const workers = states.map((s) => s.worker);
    const exited = Promise.all(
      states.map(
        ({ worker: w, ready }) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            // A worker still starting may not listen for messages yet; its SIGTERM handler (or the default) will do.
            if (ready && w.isConnected()) w.send({ type: 'shutdown' } satisfies ToWorker, undefined, undefined, () => {});
            else w.process.kill('SIGTERM');
          }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    if ((await Promise.race([exited, deadline])) === 'late') {
      this.#log.warn({ graceMs }, 'workers did not stop in time; killing them');
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
    cluster.off('exit', this.#onExit);
    await this.#buckets.close();
  }

  /** How long stop() should give the workers: their drain timeout and a margin. */
  get drainTimeout(): number {
    return this.#current?.config.server.drainTimeout ?? 10_000;
  }
}
