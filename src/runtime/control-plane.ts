// Config → validate → apply, serialised: the file is the source, an Applier puts a validated config into service
// (one in-process gateway, or every cluster worker). A config that fails validation or provisioning is logged
// and reported, and the last good one keeps serving.
import { formatConfigError } from '../config/load.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { AdminControl, Readiness, ReloadResult } from '../admin/control.ts';
import type { Logger } from '../observability/logger.ts';
import type { ConfigFile } from '../store/config-file.ts';

export interface Applier {
  apply(config: SluiceConfig, version: number): Promise<void>;
  readiness(): Readiness;
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
  /** Reloads run one at a time; a request arriving during one waits for it and then runs once more. */
  #queue: Promise<unknown> = Promise.resolve();
  reloads = { ok: 0, failed: 0 };

  constructor(file: ConfigFile, applier: Applier, log: Logger) {
    this.#file = file;
    this.#applier = applier;
    this.#log = log;
  }

  reload(reason: string): Promise<ReloadResult> {
    const run = this.#queue.then(() => this.#reload(reason));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #reload(reason: string): Promise<ReloadResult> {
    const loaded = await this.#file.load();
    if (!loaded.ok) {
      const errors = loaded.errors.map(formatConfigError);
      this.reloads.failed++;
      this.#log.error({ reason, file: this.#file.path, errors }, 'config rejected; the previous config keeps serving');
      return { ok: false, errors };
    }
    if (this.#applied && this.#applied.text === loaded.text) return { ok: true, version: this.#applied.version, changed: false };
    const version = (this.#applied?.version ?? 0) + 1;
    try {
      await this.#applier.apply(loaded.config, version);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.reloads.failed++;
      this.#log.error({ reason, file: this.#file.path, err: message }, 'config could not be applied; the previous config keeps serving');
      return { ok: false, errors: [`${this.#file.path}: ${message}`] };
    }
    this.#applied = { version, config: loaded.config, text: loaded.text, loadedAt: new Date().toISOString() };
    this.reloads.ok++;
    this.#log.info({ reason, version, file: this.#file.path }, version === 1 ? 'config loaded' : 'config reloaded');
    return { ok: true, version, changed: true };
  }

  readiness(): Readiness {
    const applier = this.#applier.readiness();
    return {
      ready: this.#applied !== undefined && applier.ready,
      detail: { configVersion: this.#applied?.version ?? 0, reloads: this.reloads, ...applier.detail },
    };
  }

  currentConfig(): { version: number; config: SluiceConfig; loadedAt: string } | undefined {
    const a = this.#applied;
    return a && { version: a.version, config: a.config, loadedAt: a.loadedAt };
  }
}
