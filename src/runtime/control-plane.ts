// Config → validate → apply → record, serialised. Two ways in: the config file (start, file watch, SIGHUP,
// POST /reload) and writes through the admin API (PUT /config, rollback). Either way a config becomes live only
// when it is valid, the Applier put it into service (one in-process gateway, or every cluster worker) and it is
// recorded as the next version in the store. A config that fails is logged once and reported; the last good one
// keeps serving. The YAML file stays the human source of truth: an API write rewrites it (atomically), and an
// edit of the file becomes a version whose author is "file".
import { formatConfigError, parseConfig, type LoadResult } from '../config/load.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { AdminControl, Readiness, ReloadResult, RunningConfig, UpstreamsView, WriteMeta, WriteResult } from '../admin/control.ts';
import type { Logger } from '../observability/logger.ts';
import type { Rollout, RolloutAdmin, RolloutPeer } from '../rollout/types.ts';
import type { AuditEntry, AuditTrail } from '../store/audit-log.ts';
import type { ConfigFile } from '../store/config-file.ts';
import {
  isShared,
  metaOf,
  RolloutInProgressError,
  StoreUnavailableError,
  VersionConflictError,
  type ConfigStore,
  type ConfigVersion,
  type NewVersion,
  type SharedConfigStore,
  type StoreHealth,
  type VersionMeta,
} from '../store/version-store.ts';

/** The reason given by the file watch (reload-triggers.ts). */
export const FILE_CHANGE = 'file change';
/** How long a config file that fails to parse on a file change is given to finish being written. */
const SAVE_SETTLE_MS = 100;
/** The reason given when a shared store has a new version, or is back after an outage. */
export const STORE_CHANGE = 'store change';

export interface Applier {
  /** Puts the config into service, or throws and leaves the running one untouched. */
  apply(config: SluiceConfig, version: number): Promise<void>;
  readiness(): Readiness;
  upstreams(): Promise<UpstreamsView>;
}

/** Where versions and the audit trail are kept (runtime/control-store.ts opens them). */
export interface ControlStore {
  store: ConfigStore;
  audit: AuditTrail;
  /** With etcd: staged rollouts (src/rollout/), this instance's part in them and the admin API's. */
  rollouts?: { peer: RolloutPeer; admin: RolloutAdmin };
}

/** What went wrong after validation: applying, recording, a lost compare-and-swap, or an unreachable store. */
type Failure = { ok: false; kind: 'apply' | 'store' | 'unavailable' | 'rollout'; message: string } | { ok: false; kind: 'conflict'; current: number };

export class ControlPlane implements AdminControl {
  readonly #file: ConfigFile;
  readonly #applier: Applier;
  readonly #log: Logger;
  readonly #store: ConfigStore;
  /** Set when the store is shared (etcd): then the store, not the file, holds the config in service. */
  readonly #shared: SharedConfigStore | undefined;
  readonly #audit: AuditTrail;
  readonly #rollouts: ControlStore['rollouts'];
  /** A rollout whose candidate this instance refused (invalid here, or could not be applied): not tried again. */
  #refusedRollout: string | undefined;
  /** The rollout observing at the last sync, and whether this instance is one of its canaries. */
  #following: { id: string; canary: boolean; state?: 'applied' | 'refused' } | undefined;
  #applied: RunningConfig | undefined;
  /** The version in service: set when the Applier has put it live, a moment before it is recorded. */
  #live: number | undefined;
  /** The tail of the chain of reloads and writes: they run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A reload queued behind the running one and not started yet; later callers share it (it reads the file after them). */
  #waiting: Promise<ReloadResult> | undefined;
  /** The errors of the last rejection, so one bad save is logged once however many events or signals follow. */
  #rejected: string | undefined;
  /** A shared store's version that is invalid here or could not be applied: not tried again until a newer one. */
  #refused: number | undefined;
  reloads = { ok: 0, failed: 0 };
  readonly #opened = new Date().toISOString();

  constructor(file: ConfigFile, applier: Applier, log: Logger, store: ControlStore) {
    this.#file = file;
    this.#applier = applier;
    this.#log = log;
    this.#store = store.store;
    this.#shared = isShared(store.store) ? store.store : undefined;
    this.#audit = store.audit;
    this.#rollouts = store.rollouts;
  }

  /** True when the config lives in a shared store (etcd) rather than in the config file. */
  get shared(): boolean {
    return this.#shared !== undefined;
  }

  reload(reason: string): Promise<ReloadResult> {
    if (this.#waiting) return this.#waiting;
    const run = this.#queue.then(() => {
      this.#waiting = undefined;
      return this.#reload(reason);
    });
    this.#waiting = run;
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #reload(reason: string): Promise<ReloadResult> {
    if (this.#shared) return this.#sync(this.#shared, reason);
    let loaded = await this.#file.load();
    if (!loaded.ok && reason === FILE_CHANGE) {
      // The watch can fire while a save is still being written (an in-place write read half-way, seen under
      // load): read it again once the writer has had a moment, and judge what is there then.
      await new Promise((resolve) => setTimeout(resolve, SAVE_SETTLE_MS));
      loaded = await this.#file.load();
    }
    if (!loaded.ok) return this.#reject(reason, loaded.errors.map(formatConfigError), 'config rejected; the previous config keeps serving');
    const applied = this.#applied;
    if (applied && applied.text === loaded.text) {
      if (this.#rejected !== undefined) this.#log.info({ reason, version: applied.version }, 'config file is valid again and matches the running config');
      this.#rejected = undefined;
      return { ok: true, version: applied.version, changed: false };
    }
    // A file caught between truncate and write reads empty, and an empty file is valid (all defaults): applying
    // it would drop every route. Nobody means that on a running gateway. Seen by the file watch it is a save in
    // progress (its write is the next event), not a mistake worth an error line.
    if (applied && loaded.text.trim() === '') {
      const errors = [`${this.#file.path}: the file is empty (a save in progress?); write the whole config`];
      if (reason !== FILE_CHANGE) return this.#reject(reason, errors, 'config rejected; the previous config keeps serving');
      this.#log.debug({ reason, file: this.#file.path }, 'config file is empty; waiting for the rest of the save');
      return { ok: false, errors };
    }
    const message = applied ? `config file read on ${reason}` : 'config file read at start';
    const done = await this.#goLive(loaded.config, loaded.text, { text: loaded.text, author: 'file', message, source: 'file' }, false, undefined);
    if (!done.ok) {
      const what = done.kind === 'apply' ? 'config could not be applied' : 'config could not be recorded in the store';
      const result = this.#reject(reason, [`${this.#file.path}: ${failureMessage(done)}`], `${what}; the previous config keeps serving`);
      return { ...result, kind: done.kind === 'apply' ? 'apply' : 'store' };
    }
    this.#rejected = undefined;
    this.reloads.ok++;
    this.#log.info({ reason, version: done.meta.version, file: this.#file.path }, applied ? 'config reloaded' : 'config loaded');
    return { ok: true, version: done.meta.version, changed: true };
  }

  write(text: string, meta: WriteMeta, expected: number | undefined): Promise<WriteResult> {
    return this.#serial(() => this.#write(text, { ...meta, text, source: 'api' }, expected));
  }

  rollback(to: number, meta: WriteMeta, expected: number | undefined): Promise<WriteResult> {
    return this.#serial(async () => {
      const target = await this.#store.get(to);
      if (!target) return { ok: false, code: 'not_found', message: `version ${to} is not in the store (see GET /api/v1/config/versions)` };
      return this.#write(target.text, { ...meta, text: target.text, source: 'rollback', rollbackOf: to }, expected);
    });
  }

  async #write(text: string, entry: NewVersion, expected: number | undefined): Promise<WriteResult> {
    const applied = this.#applied;
    if (!applied) return { ok: false, code: 'not_ready', message: 'no config is loaded yet' };
    // With a shared store, the store decides (this instance may not have applied another's newest version yet).
    if (!this.#shared && expected !== undefined && expected !== applied.version) return { ok: false, code: 'version_conflict', current: applied.version };
    const parsed: LoadResult = parseConfig(text, this.#file.path);
    if (!parsed.ok) return { ok: false, code: 'invalid_config', errors: parsed.errors };
    // Checked before anything is applied; the commit's transaction checks again (a rollout may start meanwhile).
    if (this.#rollouts) {
      let observing: Rollout | undefined;
      try {
        observing = await this.#rollouts.peer.observing();
      } catch (err) {
        return { ok: false, code: 'store_unavailable', message: (err as Error).message };
      }
      if (observing) return { ok: false, code: 'rollout_in_progress', message: new RolloutInProgressError(observing.id).message };
    }
    if (text === applied.text) return { ok: true, changed: false, version: applied.meta };
    const done = await this.#goLive(parsed.config, text, entry, !this.#shared, expected);
    if (!done.ok) {
      if (done.kind === 'conflict') return { ok: false, code: 'version_conflict', current: done.current };
      const code = done.kind === 'store' ? 'store_failed' : done.kind === 'unavailable' ? 'store_unavailable' : done.kind === 'rollout' ? 'rollout_in_progress' : 'apply_failed';
      return { ok: false, code, message: done.message };
    }
    this.reloads.ok++;
    this.#log.info({ version: done.meta.version, author: entry.author, source: entry.source, message: entry.message }, 'config applied from the admin API');
    return { ok: true, changed: true, version: done.meta };
  }

  /**
   * Applies, then records: the config file first (for an API write), then the version. A crash between the two
   * leaves a file newer than the store, which the next start records as a version by "file": the content is
   * never lost, only its author. If recording fails, the previous config is put back, so what runs is always a
   * recorded version.
   */
  async #goLive(config: SluiceConfig, text: string, entry: NewVersion, writeFile: boolean, expected: number | undefined): Promise<{ ok: true; meta: VersionMeta } | Failure> {
    const previous = this.#applied;
    let latest: ConfigVersion | undefined;
    try {
      latest = await this.#store.latest();
    } catch (err) {
      return storeFailure(err);
    }
    if (expected !== undefined && expected !== (latest?.version ?? 0)) return { ok: false, kind: 'conflict', current: latest?.version ?? 0 };
    // At start, a file that matches the newest version is that version, not a new one.
    const same = !previous && latest?.text === text ? latest : undefined;
    const version = same?.version ?? (latest?.version ?? 0) + 1;
    try {
      await this.#applier.apply(config, version);
    } catch (err) {
      return { ok: false, kind: 'apply', message: err instanceof Error ? err.message : String(err) };
    }
    // Requests already see this config: readiness says so even while it is being recorded.
    this.#live = version;
    // With a shared store the admin section is each instance's own, from its local file.
    if (!this.#shared && previous && previous.config.admin.address !== config.admin.address) {
      this.#log.warn({ running: previous.config.admin.address, configured: config.admin.address }, 'admin.address changed; it takes effect at the next start');
    }
    let meta: VersionMeta | undefined = same && metaOf(same);
    if (!meta) {
      let step = `write the config file ${this.#file.path}`;
      try {
        if (writeFile) await this.#file.write(text);
        step = `record the new version in ${this.#store.location}`;
        meta = metaOf(await this.#store.commit(entry, latest?.version ?? 0));
      } catch (err) {
        const message = `cannot ${step}: ${(err as Error).message}`;
        if (err instanceof VersionConflictError) this.#log.info({ current: err.current }, 'another instance committed first; putting the previous config back');
        else this.#log.error({ err: (err as Error).message, store: this.#store.location }, 'cannot record a config version; putting the previous config back');
        this.#live = previous?.version;
        if (previous) {
          await this.#applier.apply(previous.config, previous.version).catch((e: unknown) => this.#log.error({ err: String(e) }, 'cannot put the previous config back'));
          if (writeFile) await this.#file.write(previous.text).catch((e: unknown) => this.#log.error({ err: String(e) }, 'cannot restore the config file'));
        }
        if (err instanceof VersionConflictError) return { ok: false, kind: 'conflict', current: err.current };
        if (err instanceof RolloutInProgressError) return { ok: false, kind: 'rollout', message: err.message };
        return { ok: false, kind: err instanceof StoreUnavailableError ? 'unavailable' : 'store', message };
      }
      if (entry.source === 'file' && previous) {
        await this.audit({ time: meta.createdAt, actor: 'file', action: 'config.file', result: 'ok', version: meta.version, message: entry.message });
      }
    }
    this.#applied = { version: meta.version, meta, text, config, loadedAt: new Date().toISOString() };
    this.#rollouts?.peer.applied(meta.version, undefined);
    return { ok: true, meta };
  }

  /**
   * With a shared store: puts the store's newest version into service if it is not already. At the first start
   * against an empty store, the config file seeds it (compare-and-swap on "empty": when several instances start
   * at once, one seeds and the others apply its version).
   */
  async #sync(shared: SharedConfigStore, reason: string, seed = true): Promise<ReloadResult> {
    let latest: ConfigVersion | undefined;
    try {
      latest = await shared.latest();
    } catch (err) {
      return { ...this.#reject(reason, [(err as Error).message], 'cannot read the config store; the running config keeps serving'), kind: 'store' };
    }
    const applied = this.#applied;
    if (!latest) {
      if (applied || !seed) return { ...this.#reject(reason, [`${shared.location} holds no config version`], 'the config store is empty; the running config keeps serving'), kind: 'store' };
      const loaded = await this.#file.load();
      if (!loaded.ok) return this.#reject(reason, loaded.errors.map(formatConfigError), 'config rejected');
      const entry: NewVersion = { text: loaded.text, author: 'file', message: `seeded from ${this.#file.path} at start`, source: 'file' };
      const done = await this.#goLive(loaded.config, loaded.text, entry, false, 0);
      if (!done.ok && done.kind === 'conflict') return this.#sync(shared, reason, false);
      if (!done.ok) return { ...this.#reject(reason, [failureMessage(done)], 'cannot seed the config store'), kind: done.kind === 'apply' ? 'apply' : 'store' };
      this.reloads.ok++;
      this.#log.info({ version: done.meta.version, store: shared.location, file: this.#file.path }, 'config store was empty: seeded it with the config file');
      return { ok: true, version: done.meta.version, changed: true };
    }
    // During a staged rollout a canary runs the candidate instead; every other instance, and a canary that
    // refused it, runs the newest version. One path for both, so a rollout never races a new version.
    let observing: Rollout | undefined;
    try {
      observing = await this.#rollouts?.peer.observing();
    } catch (err) {
      return { ...this.#reject(reason, [(err as Error).message], 'cannot read the config store; the running config keeps serving'), kind: 'store' };
    }
    const canary = observing !== undefined && observing.canaries.includes(this.#rollouts!.peer.instanceId);
    const candidate = canary && this.#refusedRollout !== observing!.id ? observing : undefined;
    this.#following = observing === undefined ? undefined : { id: observing.id, canary, ...(this.#following?.id === observing.id && this.#following.state ? { state: this.#following.state } : {}) };
    const want = candidate ? { text: candidate.text, meta: candidateMeta(candidate, latest.version) } : { text: latest.text, meta: metaOf(latest) };
    if (applied && applied.version === want.meta.version && applied.meta.sha256 === want.meta.sha256) {
      this.#rejected = undefined;
      return { ok: true, version: applied.version, changed: false };
    }
    const what = candidate ? `rollout ${candidate.id}` : `version ${latest.version}`;
    // Relative paths in it (plugin modules, CA files, token files) are read beside the local config file.
    const parsed = parseConfig(want.text, this.#file.path);
    if (!parsed.ok) {
      const errors = parsed.errors.map((e) => `${what}: ${formatConfigError(e)}`);
      if (candidate) return this.#refuse(candidate, reason, errors);
      this.#refused = latest.version;
      return this.#reject(reason, errors, 'the newest version in the config store is not valid here; the previous config keeps serving');
    }
    try {
      await this.#applier.apply(parsed.config, latest.version);
    } catch (err) {
      const errors = [`${what}: ${(err as Error).message}`];
      if (candidate) return { ...this.#refuse(candidate, reason, errors), kind: 'apply' };
      this.#refused = latest.version;
      return { ...this.#reject(reason, errors, 'config could not be applied; the previous config keeps serving'), kind: 'apply' };
    }
    this.#live = latest.version;
    this.#applied = { version: latest.version, meta: want.meta, text: want.text, config: parsed.config, loadedAt: new Date().toISOString() };
    this.#rejected = undefined;
    this.reloads.ok++;
    if (candidate) this.#following = { id: candidate.id, canary: true, state: 'applied' };
    this.#rollouts?.peer.applied(latest.version, candidate ? { id: candidate.id, state: 'applied', at: new Date().toISOString() } : undefined);
    if (candidate) this.#log.info({ reason, rollout: candidate.id, baseVersion: latest.version, store: shared.location }, 'canary: the rollout\'s candidate config applied');
    else this.#log.info({ reason, version: latest.version, author: latest.author, store: shared.location }, applied ? 'config version from the store applied' : 'config loaded from the store');
    return { ok: true, version: latest.version, changed: true };
  }

  /** A canary that cannot run the candidate says so (the controller rolls the rollout back) and keeps its config. */
  #refuse(candidate: Rollout, reason: string, errors: string[]): { ok: false; errors: string[] } {
    this.#refusedRollout = candidate.id;
    this.#following = { id: candidate.id, canary: true, state: 'refused' };
    this.#rollouts?.peer.applied(this.#applied?.version ?? 0, { id: candidate.id, state: 'refused', error: errors.join('; '), at: new Date().toISOString() });
    return this.#reject(reason, errors, 'canary: the rollout\'s candidate config was refused; the previous config keeps serving');
  }

  /** Staged rollouts, with a shared store. */
  rollouts(): RolloutAdmin | undefined {
    return this.#rollouts?.admin;
  }

  /**
   * With a shared store: applies every version another instance commits, and says when the store goes away and
   * comes back (then it reads the newest version again). Returns the function that stops following.
   */
  followStore(): () => void {
    const shared = this.#shared;
    if (!shared) return () => {};
    return shared.follow({
      latest: (n) => {
        if (n !== this.#applied?.version && n !== this.#refused) void this.reload(STORE_CHANGE);
      },
      health: (health) => {
        if (health.state === 'degraded') {
          this.#log.warn({ store: shared.location, reason: health.reason }, 'config store unreachable; the last good config keeps serving');
          return;
        }
        this.#log.info({ store: shared.location }, 'config store reachable again');
        void this.reload(STORE_CHANGE);
      },
    });
  }

  #reject(reason: string, errors: string[], message: string): { ok: false; errors: string[] } {
    this.reloads.failed++;
    const key = errors.join('\n');
    if (key !== this.#rejected) {
      this.#log.error({ reason, ...(this.#shared ? { store: this.#shared.location } : { file: this.#file.path }), errors }, message);
      if (this.#applied && !this.#shared) void this.audit({ time: new Date().toISOString(), actor: 'file', action: 'config.file', result: 'rejected', version: this.#applied.version, message: reason, errors });
    } else this.#log.debug({ reason }, 'config still rejected');
    this.#rejected = key;
    return { ok: false, errors };
  }

  readiness(): Readiness {
    const applier = this.#applier.readiness();
    return {
      ready: this.#applied !== undefined && applier.ready,
      detail: {
        configVersion: this.#live ?? 0,
        reloads: this.reloads,
        ...applier.detail,
        store: this.storeStatus(),
        ...(this.#rollouts ? { instance: this.#rollouts.peer.instanceId } : {}),
        ...(this.#following ? { rollout: this.#following } : {}),
      },
    };
  }

  /** The store's backend, where it is and, for a shared store, whether it can be reached (`degraded` and why). */
  storeStatus(): { backend: string; location: string } & StoreHealth {
    if (this.#shared) return { backend: this.#shared.backend, location: this.#shared.location, ...this.#shared.health() };
    return { backend: 'file', location: this.#store.location, state: 'ok', since: this.#opened };
  }

  upstreams(): Promise<UpstreamsView> {
    return this.#applier.upstreams();
  }

  currentConfig(): RunningConfig | undefined {
    return this.#applied;
  }

  async versions(): Promise<VersionMeta[]> {
    return this.#store.list();
  }

  version(n: number): Promise<ConfigVersion | undefined> {
    return this.#store.get(n);
  }

  /** Appends to the audit log; a failure is logged, never thrown (the change it records has happened). */
  async audit(entry: AuditEntry): Promise<void> {
    try {
      await this.#audit.append(entry);
    } catch (err) {
      this.#log.error({ err: (err as Error).message, audit: this.#audit.path, entry }, 'cannot write the audit log');
    }
  }

  auditEntries(limit: number): Promise<AuditEntry[]> {
    return this.#audit.read(limit);
  }

  /** Releases the store's lock (at shutdown). */
  async close(): Promise<void> {
    await this.#queue;
    await this.#store.close();
  }
}

function storeFailure(err: unknown): Failure {
  return { ok: false, kind: err instanceof StoreUnavailableError ? 'unavailable' : 'store', message: (err as Error).message };
}

function failureMessage(failure: Failure): string {
  return failure.kind === 'conflict' ? `another instance committed version ${failure.current} first` : failure.message;
}

/** How a canary's running config is shown: the base version's number, the rollout's author, message and checksum. */
function candidateMeta(rollout: Rollout, version: number): VersionMeta {
  return { version, createdAt: rollout.createdAt, author: rollout.author, message: `candidate of rollout ${rollout.id}: ${rollout.message}`, source: 'rollout', sha256: rollout.sha256 };
}
