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
import type { AuditEntry, AuditLog } from '../store/audit-log.ts';
import type { ConfigFile } from '../store/config-file.ts';
import type { ConfigStore, ConfigVersion, NewVersion, VersionMeta } from '../store/version-store.ts';

/** The reason given by the file watch (reload-triggers.ts). */
export const FILE_CHANGE = 'file change';

export interface Applier {
  /** Puts the config into service, or throws and leaves the running one untouched. */
  apply(config: SluiceConfig, version: number): Promise<void>;
  readiness(): Readiness;
  upstreams(): Promise<UpstreamsView>;
}

/** Where versions and the audit trail are kept (runtime/control-store.ts opens them). */
export interface ControlStore {
  store: ConfigStore;
  audit: AuditLog;
}

type Failure = { ok: false; kind: 'apply' | 'store'; message: string };

export class ControlPlane implements AdminControl {
  readonly #file: ConfigFile;
  readonly #applier: Applier;
  readonly #log: Logger;
  readonly #store: ConfigStore;
  readonly #audit: AuditLog;
  #applied: RunningConfig | undefined;
  /** The version in service: set when the Applier has put it live, a moment before it is recorded. */
  #live: number | undefined;
  /** The tail of the chain of reloads and writes: they run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A reload queued behind the running one and not started yet; later callers share it (it reads the file after them). */
  #waiting: Promise<ReloadResult> | undefined;
  /** The errors of the last rejection, so one bad save is logged once however many events or signals follow. */
  #rejected: string | undefined;
  reloads = { ok: 0, failed: 0 };

  constructor(file: ConfigFile, applier: Applier, log: Logger, store: ControlStore) {
    this.#file = file;
    this.#applier = applier;
    this.#log = log;
    this.#store = store.store;
    this.#audit = store.audit;
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
    const loaded = await this.#file.load();
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
    const done = await this.#goLive(loaded.config, loaded.text, { text: loaded.text, author: 'file', message, source: 'file' }, false);
    if (!done.ok) {
      const what = done.kind === 'store' ? 'config could not be recorded in the store' : 'config could not be applied';
      const result = this.#reject(reason, [`${this.#file.path}: ${done.message}`], `${what}; the previous config keeps serving`);
      return { ...result, kind: done.kind };
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
    if (expected !== undefined && expected !== applied.version) return { ok: false, code: 'version_conflict', current: applied.version };
    const parsed: LoadResult = parseConfig(text, this.#file.path);
    if (!parsed.ok) return { ok: false, code: 'invalid_config', errors: parsed.errors };
    if (text === applied.text) return { ok: true, changed: false, version: applied.meta };
    const done = await this.#goLive(parsed.config, text, entry, true);
    if (!done.ok) return { ok: false, code: done.kind === 'store' ? 'store_failed' : 'apply_failed', message: done.message };
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
  async #goLive(config: SluiceConfig, text: string, entry: NewVersion, writeFile: boolean): Promise<{ ok: true; meta: VersionMeta } | Failure> {
    const previous = this.#applied;
    const latest = await this.#store.latest();
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
    if (previous && previous.config.admin.address !== config.admin.address) {
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
        this.#log.error({ err: (err as Error).message, store: this.#store.location }, 'cannot record a config version; putting the previous config back');
        this.#live = previous?.version;
        if (previous) {
          await this.#applier.apply(previous.config, previous.version).catch((e: unknown) => this.#log.error({ err: String(e) }, 'cannot put the previous config back'));
          if (writeFile) await this.#file.write(previous.text).catch((e: unknown) => this.#log.error({ err: String(e) }, 'cannot restore the config file'));
        }
        return { ok: false, kind: 'store', message };
      }
      if (entry.source === 'file' && previous) {
        await this.audit({ time: meta.createdAt, actor: 'file', action: 'config.file', result: 'ok', version: meta.version, message: entry.message });
      }
    }
    this.#applied = { version: meta.version, meta, text, config, loadedAt: new Date().toISOString() };
    return { ok: true, meta };
  }

  #reject(reason: string, errors: string[], message: string): { ok: false; errors: string[] } {
    this.reloads.failed++;
    const key = errors.join('\n');
    if (key !== this.#rejected) {
      this.#log.error({ reason, file: this.#file.path, errors }, message);
      if (this.#applied) void this.audit({ time: new Date().toISOString(), actor: 'file', action: 'config.file', result: 'rejected', version: this.#applied.version, message: reason, errors });
    } else this.#log.debug({ reason }, 'config still rejected');
    this.#rejected = key;
    return { ok: false, errors };
  }

  readiness(): Readiness {
    const applier = this.#applier.readiness();
    return {
      ready: this.#applied !== undefined && applier.ready,
      detail: { configVersion: this.#live ?? 0, reloads: this.reloads, ...applier.detail },
    };
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

function metaOf(v: ConfigVersion | VersionMeta): VersionMeta {
  const { text: _text, ...meta } = v as ConfigVersion;
  return meta;
}
