// Config → validate → apply, serialised: the file is the source, an Applier puts a validated config into service
// (one in-process gateway, or every cluster worker). A config that fails validation or provisioning is logged
// once and reported, and the last good one keeps serving.
import { formatConfigError } from '../config/load.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { AdminControl, Readiness, ReloadResult, UpstreamsView } from '../admin/control.ts';
import type { Logger } from '../observability/logger.ts';
import type { ConfigFile } from '../store/config-file.ts';

/** The reason given by the file watch (reload-triggers.ts). */
export const FILE_CHANGE = 'file change';

export interface Applier {
  /** Puts the config into service, or throws and leaves the running one untouched. */
  apply(config: SluiceConfig, version: number): Promise<void>;
  readiness(): Readiness;
  upstreams(): Promise<UpstreamsView>;
}

interface Applied {
  version: number;
  config: SluiceConfig;
  text: string;
  loadedAt: string;
}

export class ControlPlane implements AdminControl {
  readonly #file: ConfigFile;
  readonly #applier: Applier;
  readonly #log: Logger;
  #applied: Applied | undefined;
  /** The tail of the reload chain: reloads run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A reload queued behind the running one and not started yet; later callers share it (it reads the file after them). */
  #waiting: Promise<ReloadResult> | undefined;
  /** The errors of the last rejection, so one bad save is logged once however many events or signals follow. */
  #rejected: string | undefined;
  reloads = { ok: 0, failed: 0 };

  constructor(file: ConfigFile, applier: Applier, log: Logger) {
    this.#file = file;
    this.#applier = applier;
    this.#log = log;
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
    const version = (applied?.version ?? 0) + 1;
    try {
      await this.#applier.apply(loaded.config, version);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return this.#reject(reason, [`${this.#file.path}: ${message}`], 'config could not be applied; the previous config keeps serving');
    }
    if (applied && applied.config.admin.address !== loaded.config.admin.address) {
      this.#log.warn({ running: applied.config.admin.address, configured: loaded.config.admin.address }, 'admin.address changed; it takes effect at the next start');
    }
    this.#applied = { version, config: loaded.config, text: loaded.text, loadedAt: new Date().toISOString() };
    this.#rejected = undefined;
    this.reloads.ok++;
    this.#log.info({ reason, version, file: this.#file.path }, version === 1 ? 'config loaded' : 'config reloaded');
    return { ok: true, version, changed: true };
  }

  #reject(reason: string, errors: string[], message: string): ReloadResult {
    this.reloads.failed++;
    const key = errors.join('\n');
    if (key !== this.#rejected) this.#log.error({ reason, file: this.#file.path, errors }, message);
    else this.#log.debug({ reason }, 'config still rejected');
    this.#rejected = key;
    return { ok: false, errors };
  }

  readiness(): Readiness {
    const applier = this.#applier.readiness();
    return {
      ready: this.#applied !== undefined && applier.ready,
      detail: { configVersion: this.#applied?.version ?? 0, reloads: this.reloads, ...applier.detail },
    };
  }

  upstreams(): Promise<UpstreamsView> {
    return this.#applier.upstreams();
  }

  currentConfig(): { version: number; config: SluiceConfig; loadedAt: string } | undefined {
    const a = this.#applied;
    return a && { version: a.version, config: a.config, loadedAt: a.loadedAt };
  }
}
