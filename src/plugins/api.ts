// Sluice's public plugin API (`import type { Plugin } from 'sluice/plugin'`): what a plugin module exports, what a
// plugin instance may hook, and the request context it works with. Everything here is a type except definePlugin,
// an identity function that only helps inference. The guide is docs/plugins.md.
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from 'pino';

export type { Logger };

/**
 * A validator as standardschema.dev describes it. zod 4, valibot and arktype schemas are all one, so a plugin
 * brings whichever it likes; Sluice validates the plugin's `config:` with it when the config is loaded.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/**
 * What a plugin module exports (as its default export, or as `plugin`). `create` runs once per place the plugin is
 * attached (globally, on an upstream, on a route) when a config is loaded; an instance whose config did not change
 * is kept across reloads, so whatever it holds (caches, connections) survives them.
 *
 * @example
 * import { z } from 'zod';
 * import type { Plugin } from 'sluice/plugin';
 *
 * const schema = z.object({ greeting: z.string().default('hello') });
 * export default {
 *   name: 'hello',
 *   schema,
 *   create(config) {
 *     return {
 *       async handle(ctx, next) {
 *         ctx.upstreamRequest.headers.set('x-greeting', config.greeting);
 *         await next();
 *       },
 *     };
 *   },
 * } satisfies Plugin<z.output<typeof schema>>;
 */
export interface Plugin<Config = unknown> {
  /** Names the plugin in logs, metrics and errors: lower-case letters, digits and "-". */
  readonly name: string;
  /** Validates and normalises the entry's `config:`; without one, the plugin gets `config:` as written. */
  readonly schema?: StandardSchemaV1<unknown, Config>;
  /**
   * Compiles the config into an instance. Keep it free of side effects that need undoing: put those in the
   * instance's init(). A rejection (or a throw) rejects the whole config; the running one keeps serving.
   */
  create(config: Config, env: PluginEnv): PluginInstance | Promise<PluginInstance>;
}

/** A plugin, compiled for one place in one config. Every member is optional. */
export interface PluginInstance {
  /**
   * The request phase, as an onion: work before `await next()` runs on the way in, in chain order; after it, on
   * the way out, once the plugins further in are done. Not calling next() stops the request there: answer it
   * with ctx.respond() or ctx.fail(). The request goes upstream once the whole chain has returned.
   */
  handle?: Middleware;
  /**
   * The response phase: the response head (the upstream's, or one a plugin answered with), before it is sent.
   * Change the status or headers in place. Runs synchronously, innermost plugin first.
   */
  onResponse?(ctx: PluginContext, response: PluginResponse): void;
  /** The logging phase: after the response ended (or the client left) and the access-log line was written. */
  onLog?(ctx: PluginContext, entry: PluginLogEntry): void;
  /** Takes resources (opens connections, fetches keys) before the config goes live; a rejection rejects it. */
  init?(): void | Promise<void>;
  /** Gives them back once no live config uses this instance; also after a failed init. */
  dispose?(): void | Promise<void>;
}

/** Calls the rest of the chain; resolves once it is done. Call it at most once. */
export type Next = () => Promise<void> | void;

/** `(ctx, next) => Promise<void>`: a synchronous return is fine too (and cheaper). */
export type Middleware = (ctx: PluginContext, next: Next) => Promise<void> | void;

/** What create() gets besides the config. */
export interface PluginEnv {
  /** The plugin's name. */
  readonly name: string;
  /** Where this instance is attached. */
  readonly scope: { readonly kind: 'global' | 'upstream' | 'route'; readonly name: string | undefined };
  /** Sluice's logger, bound to { plugin, scope }. */
  readonly log: Logger;
  /** Counters and histograms exported on /metrics. Create them here, once, not per request. */
  readonly metrics: PluginMetrics;
}

/** The request as the client sent it. Headers are read-only here: change what goes upstream via upstreamRequest. */
export interface PluginRequest {
  readonly method: string;
  /** The request target as received: path and query, e.g. "/api/users?page=2". */
  readonly url: string;
  /** The path, with dot segments resolved (what routing matched). */
  readonly path: string;
  /** The query string without "?", "" when none. */
  readonly search: string;
  /** The query, parsed on first use. */
  readonly query: URLSearchParams;
  /** Lower-case names; repeated fields are arrays (set-cookie) or joined with ", ". */
  readonly headers: IncomingHttpHeaders;
  /** The Host the client addressed (no port stripping). */
  readonly host: string | undefined;
  /** How the client reached Sluice ("https" also behind a trusted proxy that says so). */
  readonly protocol: 'http' | 'https';
  /**
   * The client's body as a stream. Reading it here consumes it; prefer transformBody() to change it on the way
   * through, or readBody() to inspect it whole.
   */
  readonly body: Readable;
  /** Whether the request carries a body (Content-Length above 0, or chunked). */
  readonly hasBody: boolean;
  /**
   * Reads the whole body (up to maxBytes, default 1 MiB; a larger body is answered 413) and sends that same
   * buffer upstream. Resolves with an empty buffer when there is no body.
   */
  readBody(maxBytes?: number): Promise<Buffer>;
  /** Pipes the upstream body through this stream (Content-Length is dropped; the body goes chunked). */
  transformBody(transform: Duplex): void;
  /** Answers 413 payload_too_large when the body is (or grows) larger than this. */
  limitBody(maxBytes: number): void;
}

/** Fields of the request as it goes upstream: the client's, minus hop-by-hop, plus X-Forwarded-* and the rest. */
export interface UpstreamHeaders {
  /** The value (several values joined with ", "), or undefined. */
  get(name: string): string | undefined;
  /** Replaces every field of this name. */
  set(name: string, value: string): void;
  /** Adds a field, keeping existing ones. */
  add(name: string, value: string): void;
  /** Removes every field of this name. */
  delete(name: string): void;
  has(name: string): boolean;
}

export interface UpstreamRequest {
  readonly headers: UpstreamHeaders;
  /** Path and query sent upstream (after stripPrefix/rewrite), e.g. "/users?page=2". Writable. */
  path: string;
}

/** Fields added to whatever response the client gets: the upstream's, an early answer, or a Sluice error. */
export interface ResponseHeaders {
  /** Replaces the field on the response. */
  set(name: string, value: string): void;
  get(name: string): string | undefined;
  delete(name: string): void;
}

/** The response head in onResponse: change it in place. */
export interface PluginResponse {
  status: number;
  /** Lower-case names; a field with several values is an array. */
  readonly headers: Record<string, string | string[] | undefined>;
  /** Whether the upstream produced it (false: a plugin answered). */
  readonly fromUpstream: boolean;
  /** Pipes the response body through this stream (Content-Length is dropped). Upstream responses only. */
  transformBody(transform: Duplex): void;
}

export interface PluginLogEntry {
  /** The status sent; 0 when the client left before a response. */
  readonly status: number;
  /** Time from arrival to the end of the response, ms. */
  readonly durationMs: number;
  /** The catalogue code when Sluice answered with an error (rate_limited, plugin_error…). */
  readonly errorCode: string | undefined;
}

/** An identity: set by an authentication plugin, read by the rest (acl, rate-limit key: consumer, headers). */
export interface Consumer {
  readonly id: string;
  readonly groups: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The consumers of the running config (`consumers:`), by id. */
export interface ConsumerDirectory {
  get(id: string): Consumer | undefined;
}

export interface PluginCounter {
  /** Adds value (default 1). Label values in the order the counter was declared with. */
  inc(labels?: readonly string[], value?: number): void;
}

export interface PluginHistogram {
  /** Records one observation (seconds, bytes…). */
  observe(value: number, labels?: readonly string[]): void;
}

/** Metrics exported with Sluice's own; names get the prefix `sluice_plugin_`. Keep label values bounded. */
export interface PluginMetrics {
  counter(name: string, help: string, labelNames?: readonly string[]): PluginCounter;
  /** Buckets default to latency-style bounds in seconds. */
  histogram(name: string, help: string, labelNames?: readonly string[], buckets?: readonly number[]): PluginHistogram;
}

export type SpanAttributes = Record<string, string | number | boolean>;

/** The request's trace (no-ops when it is not traced). */
export interface PluginTracer {
  /** "" when the request has no trace. */
  readonly traceId: string;
  /** Adds an attribute to the request's server span. */
  setAttribute(key: string, value: string | number | boolean): void;
  /** Starts a child span of the server span; call the result to end it. */
  startSpan(name: string, attributes?: SpanAttributes): (attributes?: SpanAttributes) => void;
}

/** Catalogue codes a plugin may answer with through ctx.fail() (docs/errors.md). */
export type PluginFailure = 'unauthorized' | 'forbidden' | 'cors_rejected' | 'payload_too_large' | 'rate_limited' | 'bad_request' | 'route_not_found';

/** One request, as plugins see it. */
export interface PluginContext {
  readonly request: PluginRequest;
  /** The client's address, through trusted proxies (server.trustedProxies). */
  readonly clientAddress: string;
  /** The route's name. */
  readonly route: string;
  /** The upstream this request goes to (a split's choice included). */
  readonly upstream: string;
  readonly listener: string;
  /** Sluice's request id (also on the upstream request and the response). */
  readonly requestId: string;
  /** Who is calling; set it in an authentication plugin. */
  consumer: Consumer | undefined;
  readonly consumers: ConsumerDirectory;
  /** Per-request scratch space shared by the plugins of the chain. */
  readonly state: Map<string, unknown>;
  /** Sluice's logger bound to { route, requestId } (env.log names the plugin). */
  readonly log: Logger;
  readonly metrics: PluginMetrics;
  readonly tracer: PluginTracer;
  readonly upstreamRequest: UpstreamRequest;
  readonly response: { readonly headers: ResponseHeaders };
  /**
   * Answers the request instead of the upstream. An object body is sent as JSON. The answer is written once the
   * chain has returned, so plugins further out still see it in onResponse (CORS headers on a 401, say).
   */
  respond(status: number, body?: string | Buffer | Uint8Array | object, headers?: Record<string, string>): void;
  /** Answers with one of Sluice's errors: the catalogue's status, JSON body and x-sluice-error. */
  fail(code: PluginFailure, headers?: Record<string, string>): void;
  /** Whether a plugin has answered (respond or fail). */
  readonly answered: boolean;
}

/**
 * Identity at run time; lets TypeScript infer the config type from the schema.
 *
 * @example
 * export default definePlugin({ name: 'noop', create: () => ({ handle: (_ctx, next) => next() }) });
 */
export function definePlugin<Config>(plugin: Plugin<Config>): Plugin<Config> {
  return plugin;
}
