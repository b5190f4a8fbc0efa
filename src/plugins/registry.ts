// The gateway's plugin instances across reloads, keyed by (plugin, place, config): a config that keeps a plugin's
// settings keeps its instance — caches, connections and all — and only what changed is created and initialised.
// provision() builds everything a new config needs before it goes live (a failure anywhere disposes what it made
// and rejects the config, naming each broken entry); release() runs when the snapshot that used them retires, and
// an instance nobody uses any more is disposed (Caddy's Provision / Cleanup, as STYLE.md asks).
import type { Logger } from 'pino';
import type { PluginEntryConfig } from '../config/plugins-schema.ts';
import { formatPath, type ConfigPath } from '../config/problem.ts';
import type { RateLimitConfig } from '../config/resilience-schema.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { GatewayMetrics } from '../observability/types.ts';
import type { Plugin, PluginEnv, PluginInstance } from './api.ts';
import { BUILTINS, type BuiltinServices } from './builtin/index.ts';
import type { Builtin } from './builtin/types.ts';
import { ChainLink, PluginChain } from './chain.ts';
import { ConsumerIndex } from './consumers.ts';
import { loadPluginModule, validatePluginConfig, type ConfigIssue } from './loader.ts';
import type { PluginMetricsRegistry } from './metrics.ts';

export interface PluginRegistryOptions {
  /** Sluice's logger; plugins get children of it. */
  readonly log: Logger;
  readonly metrics: PluginMetricsRegistry;
  /** What built-ins reach beyond the plugin API: the rate-limit stores. */
  readonly services: Pick<BuiltinServices, 'policies'>;
}

type Scope = PluginEnv['scope'];

/** One place a plugin is attached, with where its entry is written (for errors). */
interface Attachment {
  readonly scope: Scope;
  readonly path: ConfigPath;
  readonly entry: PluginEntryConfig;
}

interface Held {
  readonly key: string;
  readonly link: ChainLink;
  refs: number;
  /** dispose() ran (a shutdown can overtake a retiring snapshot's release). */
  disposed: boolean;
}

/**
 * The config could not be provisioned: one line per plugin entry at fault. `invalidInput` when every problem is in
 * the input (a module that does not load, settings that do not fit); false when an init() failed (a resource that
 * cannot be reached right now), which is a runtime failure (exit code 2 at start).
 */
export class PluginProvisionError extends Error {
  readonly problems: readonly string[];
  readonly invalidInput: boolean;
  constructor(problems: readonly string[], invalidInput: boolean) {
    super(problems.length === 1 ? problems[0]! : `${problems.length} plugins could not be set up:\n  ${problems.join('\n  ')}`);
    this.name = 'PluginProvisionError';
    this.problems = problems;
    this.invalidInput = invalidInput;
  }
}

/** init() of an instance failed. */
class InitFailed extends Error {}

export class PluginRegistry {
  readonly #options: PluginRegistryOptions;
  readonly #held = new Map<string, Held>();

  constructor(options: PluginRegistryOptions) {
    this.#options = options;
  }

  /** Every instance a config needs, created and initialised; undefined when the config uses no plugin at all. */
  async provision(config: SluiceConfig, gatewayMetrics?: GatewayMetrics): Promise<ProvisionedPlugins | undefined> {
    const attachments = attachmentsOf(config);
    if (attachments.length === 0) return undefined;
    const made = new Map<string, Held>();
    const used = new Map<Attachment, Held>();
    const problems: string[] = [];
    let initFailed = false;
    for (const attachment of attachments) {
      try {
        used.set(attachment, await this.#instanceFor(attachment, config, made, gatewayMetrics));
      } catch (err) {
        if (err instanceof InitFailed) initFailed = true;
        if (err instanceof InvalidPluginConfig) {
          const about = `(plugin "${err.plugin}" from ${err.file})`;
          for (const issue of err.issues) problems.push(`${formatPath([...attachment.path, 'config', ...issue.path])}: ${issue.message} ${about}`);
        } else {
          problems.push(`${formatPath(attachment.path)}: ${(err as Error).message}`);
        }
      }
    }
    if (problems.length > 0) {
      await Promise.all([...made.values()].map((held) => disposeHeld(held)));
      throw new PluginProvisionError(problems, !initFailed);
    }
    for (const held of made.values()) this.#held.set(held.key, held);
    for (const held of used.values()) held.refs++;
    return new ProvisionedPlugins(this, config, used, this.#options);
  }

  async #instanceFor(attachment: Attachment, config: SluiceConfig, made: Map<string, Held>, gatewayMetrics: GatewayMetrics | undefined): Promise<Held> {
    const { definition, moduleId, settings, extraKey } = await resolveDefinition(attachment.entry, config);
    const scopeKey = `${attachment.scope.kind}:${attachment.scope.name ?? ''}`;
    const key = `${moduleId}\0${scopeKey}\0${JSON.stringify(settings)}\0${extraKey}`;
    const known = this.#held.get(key) ?? made.get(key);
    if (known !== undefined) return known;
    const log = this.#options.log.child({ plugin: definition.name, scope: scopeKey });
    const env = {
      name: definition.name,
      scope: attachment.scope,
      log,
      metrics: this.#options.metrics,
      services: { ...this.#options.services, server: config.server, gatewayMetrics },
    };
    const instance = await definition.create(settings, env);
    if (typeof instance !== 'object' || instance === null) throw new Error(`plugin "${definition.name}": create() must return an object ({ handle, onResponse, onLog, init, dispose })`);
    const held: Held = { key, link: new ChainLink(definition.name, instance, log), refs: 0, disposed: false };
    made.set(key, held);
    try {
      await instance.init?.();
    } catch (err) {
      throw new InitFailed(`plugin "${definition.name}": init failed: ${(err as Error).message}`, { cause: err });
    }
    return held;
  }

  /** A retired snapshot lets go of its instances; the unused ones are disposed. */
  async release(used: Iterable<Held>): Promise<void> {
    const disposals: Promise<void>[] = [];
    for (const held of used) {
      if (--held.refs > 0) continue;
      this.#held.delete(held.key);
      disposals.push(disposeHeld(held));
    }
    await Promise.all(disposals);
  }

  /** Shutdown: dispose everything. */
  async close(): Promise<void> {
    const all = [...this.#held.values()];
    this.#held.clear();
    await Promise.all(all.map((held) => disposeHeld(held)));
  }
}

/** The instances of one snapshot, and the chain of each (route, upstream) pair. */
export class ProvisionedPlugins {
  readonly #registry: PluginRegistry;
  readonly #used: Map<Attachment, Held>;
  readonly #consumers: ConsumerIndex;
  readonly #options: PluginRegistryOptions;
  #released = false;

  constructor(registry: PluginRegistry, config: SluiceConfig, used: Map<Attachment, Held>, options: PluginRegistryOptions) {
    this.#registry = registry;
    this.#used = used;
    this.#consumers = new ConsumerIndex(config.consumers);
    this.#options = options;
  }

  /** Global plugins, then the route's, then the upstream's; undefined when there are none. */
  chainFor(route: string, upstream: string): PluginChain | undefined {
    const links: ChainLink[] = [];
    for (const kind of ['global', 'route', 'upstream'] as const) {
      const name = kind === 'route' ? route : kind === 'upstream' ? upstream : undefined;
      for (const [attachment, held] of this.#used) {
        if (attachment.scope.kind === kind && attachment.scope.name === name) links.push(held.link);
      }
    }
    if (links.length === 0) return undefined;
    return new PluginChain(links, this.#consumers, this.#options.log.child({ component: 'plugins' }), this.#options.metrics);
  }

  release(): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.#released = true;
    return this.#registry.release(this.#used.values());
  }
}

/** Entries in chain order: global, then each upstream's, then each route's (rateLimit last among the route's). */
function attachmentsOf(config: SluiceConfig): Attachment[] {
  const out: Attachment[] = [];
  (config.plugins ?? []).forEach((entry, i) => out.push({ scope: { kind: 'global', name: undefined }, path: ['plugins', i], entry }));
  config.upstreams.forEach((u, i) => {
    (u.plugins ?? []).forEach((entry, j) => out.push({ scope: { kind: 'upstream', name: u.name }, path: ['upstreams', i, 'plugins', j], entry }));
  });
  config.routes.forEach((r, i) => {
    const scope = { kind: 'route', name: r.name } as const;
    (r.plugins ?? []).forEach((entry, j) => out.push({ scope, path: ['routes', i, 'plugins', j], entry }));
    // routes[].rateLimit is the rate-limit plugin, after the route's others (so key: consumer sees the consumer).
    if (r.rateLimit !== undefined) out.push({ scope, path: ['routes', i, 'rateLimit'], entry: { 'rate-limit': r.rateLimit as RateLimitConfig } });
  });
  return out;
}

/** A path or package plugin's `config:` does not fit its schema. */
class InvalidPluginConfig extends Error {
  readonly plugin: string;
  readonly file: string;
  readonly issues: readonly ConfigIssue[];
  constructor(plugin: string, file: string, issues: readonly ConfigIssue[]) {
    super(`invalid config for plugin "${plugin}"`);
    this.plugin = plugin;
    this.file = file;
    this.issues = issues;
  }
}

interface Resolved {
  readonly definition: Plugin<unknown>;
  readonly moduleId: string;
  readonly settings: unknown;
  readonly extraKey: string;
}

async function resolveDefinition(entry: PluginEntryConfig, config: SluiceConfig): Promise<Resolved> {
  if (entry.path !== undefined || entry.package !== undefined) {
    const loaded = await loadPluginModule(entry);
    const checked = await validatePluginConfig(loaded.definition, entry.config);
    if ('issues' in checked) throw new InvalidPluginConfig(loaded.definition.name, loaded.file, checked.issues);
    return { definition: loaded.definition, moduleId: loaded.id, settings: checked.value, extraKey: '' };
  }
  for (const name in BUILTINS) {
    const settings = (entry as Record<string, unknown>)[name];
    if (settings === undefined) continue;
    const builtin = BUILTINS[name as keyof typeof BUILTINS] as Builtin<unknown>;
    return {
      definition: builtin as unknown as Plugin<unknown>,
      moduleId: `builtin:${name}`,
      settings,
      extraKey: builtin.instanceKey?.(config.server) ?? '',
    };
  }
  throw new Error('the entry names no plugin');
}

async function disposeHeld(held: Held): Promise<void> {
  if (held.disposed) return;
  held.disposed = true;
  const instance: PluginInstance = held.link.instance;
  try {
    await instance.dispose?.();
  } catch (err) {
    held.link.log.error({ err }, 'plugin dispose failed');
  }
}
