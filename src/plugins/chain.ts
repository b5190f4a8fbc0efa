// A chain of plugin instances, composed once per snapshot for each (route, upstream) pair, and the small onion
// dispatcher that runs it (after Hono's compose: a guard against next() called twice, and a synchronous result is
// never wrapped in a promise). A plugin's failure is tagged with its name on the way out, so the request fails with
// plugin_error and the log names the culprit, whichever plugin further out awaited it.
import type { Logger } from 'pino';
import type { PluginContext, PluginInstance, PluginMetrics } from './api.ts';
import type { ConsumerIndex } from './consumers.ts';

export class PluginError extends Error {
  readonly plugin: string;
  constructor(plugin: string, cause: unknown) {
    super(`plugin "${plugin}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PluginError';
    this.plugin = plugin;
  }
}

/** One instance in a chain, with what the dispatcher needs ready-made. */
export class ChainLink {
  readonly name: string;
  readonly instance: PluginInstance;
  /** The plugin's own logger ({ plugin, scope }). */
  readonly log: Logger;
  /** Re-throws a rejection tagged with this plugin's name; made once, so a request allocates no handler for it. */
  readonly reject: (err: unknown) => never;

  constructor(name: string, instance: PluginInstance, log: Logger) {
    this.name = name;
    this.instance = instance;
    this.log = log;
    this.reject = (err) => {
      throw tagged(err, name);
    };
  }
}

export class PluginChain {
  readonly links: readonly ChainLink[];
  readonly consumers: ConsumerIndex;
  /** Sluice's logger for what happens to requests in this chain (failures name their plugin). */
  readonly log: Logger;
  readonly metrics: PluginMetrics;
  readonly hasResponseHooks: boolean;
  readonly hasLogHooks: boolean;

  constructor(links: readonly ChainLink[], consumers: ConsumerIndex, log: Logger, metrics: PluginMetrics) {
    this.links = links;
    this.consumers = consumers;
    this.log = log;
    this.metrics = metrics;
    this.hasResponseHooks = links.some((l) => l.instance.onResponse !== undefined);
    this.hasLogHooks = links.some((l) => l.instance.onLog !== undefined);
  }
}

/** What dispatch reads and writes on the request's context. */
export interface ChainState extends PluginContext {
  readonly chain: PluginChain;
  /** The deepest link entered so far; -1 before the first. */
  index: number;
  /** The innermost next() was reached: the request goes on upstream (unless answered after all). */
  passed: boolean;
}

/**
 * Runs links[i] and, through its next(), the rest. Returns undefined when everything finished synchronously.
 *
 * @example
 * const done = dispatch(ctx, 0);
 * if (done !== undefined) await done;
 */
export function dispatch(ctx: ChainState, i: number): Promise<void> | void {
  if (i <= ctx.index) throw new Error('next() was called more than once');
  ctx.index = i;
  if (ctx.answered) return; // a plugin answered: nothing further in runs
  const links = ctx.chain.links;
  if (i === links.length) {
    ctx.passed = true;
    return;
  }
  const link = links[i]!;
  const instance = link.instance;
  if (instance.handle === undefined) return dispatch(ctx, i + 1);
  let result: Promise<void> | void;
  try {
    result = instance.handle(ctx, () => dispatch(ctx, i + 1));
  } catch (err) {
    throw tagged(err, link.name);
  }
  if (result === undefined || typeof (result as Promise<void>).then !== 'function') return undefined;
  return (result as Promise<void>).then(undefined, link.reject);
}

export function tagged(err: unknown, plugin: string): PluginError {
  return err instanceof PluginError ? err : new PluginError(plugin, err);
}
