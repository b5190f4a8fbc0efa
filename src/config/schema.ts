// The one source of truth for Sluice's configuration: the TypeScript types (z.infer), the validator and
// schema/sluice.schema.json (scripts/gen-schema.ts) all come from here. Descriptions become the docs.
import { z } from 'zod';
import { consumersSchema } from './consumers-schema.ts';
import { discoverySchema, etcdTls } from './discovery-schema.ts';
import { pluginsSchema } from './plugins-schema.ts';
import { observabilitySchema, samplerSchema } from './observability-schema.ts';
import {
  healthCheckExtraFields,
  rateLimitSchema,
  retryExtraFields,
  routeResilienceFields,
  serverResilienceFields,
  upstreamResilienceFields,
} from './resilience-schema.ts';
import { duration, size } from './units.ts';

const NAME = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/, 'names are 1-64 letters, digits, "_", "." or "-", starting with a letter or digit');

/** "host:port", "[v6]:port" or ":port" (all interfaces). */
const ADDRESS = z
  .string()
  .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]]*):\d{1,5}$/, 'use host:port, e.g. 127.0.0.1:8080, [::1]:8080 or :8080')
  .meta({ description: 'host:port to listen on; "[::1]:8080" for IPv6, ":8080" for every interface.' });

const HTTP_METHOD = z.string().regex(/^[A-Z]+$/, 'methods are upper-case tokens such as GET or POST');

const listenerLimits = z
  .strictObject({
    maxHeaderSize: size.prefault('16KiB').describe('Largest request head (request line plus headers); larger gets 431.'),
    maxHeaders: z.number().int().min(1).max(1000).default(100).describe('Most header fields in a request; more gets 431.'),
    maxUrlLength: size.prefault('8KiB').describe('Longest request target; longer gets 414.'),
    headersTimeout: duration.prefault('10s').describe('Time a client has to send the complete request head; then 408 and close.'),
    requestTimeout: duration.prefault('5m').describe('Time a client has to send the complete request, body included (0 disables).'),
    keepAliveTimeout: duration.prefault('5s').describe('How long an idle client connection is kept open.'),
  })
  .describe('Protection against slow and oversized requests.');

const listener = z.strictObject({
  name: NAME.describe('Unique listener name; routes may restrict themselves to listeners by name.'),
  address: ADDRESS,
  limits: listenerLimits.prefault({}),
});

const target = z.strictObject({
  url: z
    .string()
    .regex(/^https?:\/\/[^/\s?#]+\/?$/, 'a target URL is scheme://host:port with no path, e.g. http://127.0.0.1:3001')
    .describe('Origin of one upstream server, http:// or https://.'),
  weight: z.number().int().min(1).max(10_000).default(1).describe('Relative share of traffic for weighted balancers.'),
});

const hashOn = z
  .union([
    z.literal('client-ip'),
    z.strictObject({ header: z.string().min(1).toLowerCase().describe('Hash on the value of this request header.') }),
    z.strictObject({ cookie: z.string().min(1).describe('Hash on the value of this cookie.') }),
  ])
  .describe('Key for consistent hashing: "client-ip", { header: NAME } or { cookie: NAME }.');

const upstreamTls = z.strictObject({
  ca: z.string().optional().describe('PEM file with the CA certificates to trust (default: the system store).'),
  serverName: z.string().optional().describe('SNI name and the name checked in the certificate (default: the target host).'),
  insecureSkipVerify: z.boolean().default(false).describe('Accept any certificate. Only for testing.'),
});

const healthCheck = z.strictObject({
  path: z.string().startsWith('/').default('/health').describe('Path requested on each target.'),
  interval: duration.prefault('5s').describe('Time between checks of one target.'),
  timeout: duration.prefault('2s').describe('A check slower than this fails.'),
  healthyThreshold: z.number().int().min(1).default(2).describe('Consecutive passes that make an unhealthy target healthy.'),
  unhealthyThreshold: z.number().int().min(1).default(3).describe('Consecutive failures that make a healthy target unhealthy.'),
  expectedStatuses: z.array(z.number().int().min(100).max(599)).optional().describe('Statuses that pass (default: 200-399).'),
  ...healthCheckExtraFields,
});

export const LOAD_BALANCERS = ['round-robin', 'weighted', 'least-request', 'consistent-hash'] as const;

const upstream = z.strictObject({
  name: NAME.describe('Unique upstream name that routes refer to.'),
  loadBalancer: z.enum(LOAD_BALANCERS).default('round-robin').describe(
    'round-robin; weighted (smooth weighted round-robin); least-request (power of two choices); consistent-hash (Maglev).',
  ),
  hashOn: hashOn.default('client-ip'),
  targets: z.array(target).default([]).describe('The servers of this upstream (or `discovery`).'),
  discovery: discoverySchema.optional(),
  connections: z.number().int().min(1).default(128).describe('Most connections kept open to each target.'),
  pipelining: z.number().int().min(1).max(100).default(1).describe('Requests in flight per connection (1 = no pipelining).'),
  connectTimeout: duration.prefault('5s').describe('Time to open a connection to a target; then 504 upstream_connect_timeout.'),
  keepAliveTimeout: duration.prefault('4s').describe('How long an idle upstream connection is kept.'),
  tls: upstreamTls.prefault({}).describe('TLS settings for https:// targets; certificates are verified by default.'),
  healthCheck: healthCheck.optional().describe('Active health checking of every target.'),
  ...upstreamResilienceFields,
  plugins: pluginsSchema.optional().describe('Plugins run for every request sent to this upstream, after the global and the route\'s ones (docs/plugins.md).'),
}).superRefine((u, ctx) => {
  if (u.discovery === undefined && u.targets.length === 0) ctx.addIssue({ code: 'custom', path: ['targets'], message: 'an upstream needs at least one target (or discovery)' });
  if (u.discovery !== undefined && u.targets.length > 0) ctx.addIssue({ code: 'custom', path: ['discovery'], message: 'use either targets or discovery, not both' });
});

const stringMatch = z.union([
  z.string().describe('The exact value.'),
  z
    .strictObject({
      exact: z.string().optional().describe('The exact value.'),
      prefix: z.string().optional().describe('The value starts with this.'),
      regex: z.string().optional().describe('A regular expression matching the whole value.'),
      present: z.boolean().optional().describe('true: must be present, with any value; false: must be absent.'),
    })
    .refine((m) => Object.keys(m).length === 1, 'use exactly one of exact, prefix, regex or present'),
]);

const routeMatch = z
  .strictObject({
    host: z.union([z.string(), z.array(z.string()).min(1)]).optional().describe(
      'Host names: exact ("api.example.com") or a leading wildcard ("*.example.com"). Ports are ignored.',
    ),
    path: z.string().startsWith('/').optional().describe('Exact path.'),
    pathPrefix: z.string().startsWith('/').optional().describe('Path prefix on segment boundaries: /api matches /api and /api/x, not /apix.'),
    pathRegex: z.string().optional().describe('Regular expression that must match the whole path.'),
    methods: z.array(HTTP_METHOD).min(1).optional().describe('Methods this route accepts (default: all).'),
    headers: z.record(z.string(), stringMatch).optional().describe('Header predicates: a value means exact match.'),
    query: z.record(z.string(), stringMatch).optional().describe('Query parameter predicates: a value means exact match.'),
    cookies: z.record(z.string(), stringMatch).optional().describe('Cookie predicates (by cookie name): a value means exact match, e.g. { canary: "true" }.'),
  })
  .refine(
    (m) => [m.path, m.pathPrefix, m.pathRegex].filter((v) => v !== undefined).length <= 1,
    'use only one of path, pathPrefix or pathRegex',
  );

const headerOps = z.strictObject({
  add: z.record(z.string(), z.string()).optional().describe('Headers appended (an existing value is kept).'),
  set: z.record(z.string(), z.string()).optional().describe('Headers set, replacing any value.'),
  remove: z.array(z.string()).optional().describe('Headers removed.'),
});

export const RETRY_CONDITIONS = ['connect-failure', 'reset', '5xx', 'gateway-error'] as const;

const retries = z.strictObject({
  attempts: z.number().int().min(0).max(10).default(1).describe('Retries after the first try (0 disables).'),
  on: z
    .array(z.union([z.enum(RETRY_CONDITIONS), z.number().int().min(100).max(599)]))
    .default(['connect-failure'])
    .describe('When to retry: connect-failure, reset, 5xx, gateway-error (502/503/504), or a status code.'),
  perTryTimeout: duration.optional().describe('Time to response headers for each try.'),
  ...retryExtraFields,
});

const rewrite = z.union([
  z.strictObject({ prefix: z.string().startsWith('/').describe('Replaces the matched pathPrefix.') }),
  z.strictObject({
    regex: z.string().describe('Regular expression applied to the path.'),
    replacement: z.string().describe('Replacement with $1-style groups.'),
  }),
]);

const route = z
  .strictObject({
    name: NAME.describe('Unique route name; it labels metrics and logs.'),
    listeners: z.array(z.string()).min(1).optional().describe('Listeners this route serves (default: all).'),
    match: routeMatch.prefault({}).describe('What a request must look like to take this route (default: everything).'),
    upstream: z.string().optional().describe('Name of the upstream that serves this route (or `upstreams`, a weighted split).'),
    stripPrefix: z.string().startsWith('/').optional().describe('Removed from the start of the path before forwarding.'),
    rewrite: rewrite.optional().describe('Path rewrite: { prefix } replaces the matched prefix, { regex, replacement } rewrites by pattern.'),
    hostHeader: z
      .union([z.enum(['preserve', 'target']), z.string().min(1)])
      .default('preserve')
      .describe('Host sent upstream: "preserve" the client\'s, use the "target" host, or a literal host name.'),
    requestHeaders: headerOps.optional().describe('Changes to request headers before forwarding.'),
    responseHeaders: headerOps.optional().describe('Changes to response headers before answering.'),
    timeout: duration.optional().describe('Total time for the upstream exchange, body included (default: none).'),
    responseTimeout: duration.prefault('30s').describe('Time from sending the request to the upstream\'s response headers.'),
    idleTimeout: duration.prefault('60s').describe('Longest silence between two chunks of the upstream response body.'),
    maxBodySize: size.optional().describe('Largest request body accepted; larger gets 413 (default: no limit).'),
    retries: retries.optional().describe('Retries of failed attempts, with backoff and a retry budget; bodies up to bufferBody are replayed.'),
    ...routeResilienceFields,
    rateLimit: rateLimitSchema.optional(),
    plugins: pluginsSchema.optional().describe('Plugins run for this route, after the global ones and before its upstream\'s (docs/plugins.md). rateLimit is a rate-limit plugin at the end of this list.'),
    tracing: z
      .strictObject({ sampler: samplerSchema })
      .optional()
      .describe('This route\'s own trace sampling, e.g. { sampler: always } for a route worth every trace (default: observability.tracing.sampler).'),
  })
  .superRefine((r, ctx) => {
    // Reported as the missing field it usually is, so `upstrem: x` reads as one typo, not two mistakes.
    if (r.upstream === undefined && r.upstreams === undefined) ctx.addIssue({ code: 'invalid_type', expected: 'string', input: undefined, path: ['upstream'] });
    if (r.upstream !== undefined && r.upstreams !== undefined) ctx.addIssue({ code: 'custom', path: ['upstreams'], message: 'use either upstream or upstreams (a weighted split), not both' });
  });

const server = z.strictObject({
  trustedProxies: z.array(z.string()).default([]).describe(
    'Addresses or CIDRs of proxies in front of Sluice whose X-Forwarded-For / Forwarded headers are trusted.',
  ),
  requestIdHeader: z.string().toLowerCase().default('x-request-id').describe('Header carrying the request id; kept when present, generated when not.'),
  drainTimeout: duration.prefault('10s').describe('On shutdown, how long in-flight requests may take to finish.'),
  ...serverResilienceFields,
});

const admin = z.strictObject({
  address: ADDRESS.default('127.0.0.1:9901'),
  tokenFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      'File of admin API bearer tokens, one "name: token" per line (# comments; the name becomes the author of the versions it writes); relative to the config file. SLUICE_ADMIN_TOKEN adds one token named "admin". Without any token the admin API must listen on loopback. Read again when the file changes; the path itself takes effect at the next start.',
    ),
});

const etcdStore = z
  .strictObject({
    endpoints: z
      .array(z.string().regex(/^https?:\/\/[^/\s?#]+\/?$/, 'an etcd endpoint is http://host:port (its client URL), e.g. http://127.0.0.1:2379'))
      .min(1, 'name at least one etcd endpoint')
      .describe('Client URLs of the etcd cluster, e.g. [http://10.0.0.5:2379, http://10.0.0.6:2379].'),
    prefix: z
      .string()
      .regex(/^\/(?:[^\s]*\/)?$/, 'a prefix starts and ends with "/", e.g. /sluice/ or /sluice/prod/')
      .default('/sluice/')
      .describe('Key prefix of this gateway fleet in etcd: config versions under <prefix>config/, the audit log under <prefix>audit/. Instances with the same prefix share one config.'),
    dialTimeout: duration.prefault('5s').describe('At start, how long Sluice tries to reach etcd before it gives up (exit 2).'),
    requestTimeout: duration.prefault('2s').describe('Deadline of each etcd request; a slower answer counts as etcd being unreachable.'),
    username: z.string().min(1).optional().describe('etcd user, when etcd has authentication enabled (with password).'),
    password: z.string().min(1).optional().describe('Password of the etcd user (shown as [redacted] by the admin API).'),
    tls: etcdTls.optional(),
    instance: z
      .strictObject({
        id: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'an instance id is letters, digits, "_", ".", ":" or "-" (at most 128)')
          .optional()
          .describe('This instance\'s name in the fleet (<prefix>instances/<id>); unique per prefix. Default: <host name>:<admin port>.'),
        labels: z
          .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/, 'a label name is letters, digits, "_", ".", "/" or "-"'), z.string().max(128))
          .default({})
          .describe('Labels a staged rollout selects instances by, e.g. { zone: eu-west-1a, tier: canary } (docs/distributed.md).'),
        ttl: duration
          .prefault('10s')
          .refine((ms) => ms >= 2000 && ms % 1000 === 0, 'an instance ttl is whole seconds, at least 2s (etcd leases count in seconds)')
          .describe(
            'TTL of this instance\'s etcd lease, renewed every third of it: an instance that dies drops out of <prefix>instances/ after this long, and if it held the rollout controller lock, another instance takes the lock and resumes the rollout. Shorter notices a dead instance sooner; an instance that cannot reach etcd for this long drops out too.',
          ),
      })
      .prefault({})
      .describe('How this instance is known to the fleet: staged rollouts pick their canaries by these labels.'),
  })
  .refine((e) => (e.username === undefined) === (e.password === undefined), { path: ['password'], message: 'set both username and password, or neither' })
  .describe(
    'Keep config versions in etcd so that many instances share one config (docs/distributed.md). Each instance watches etcd and applies a new version within a second; while etcd is unreachable it keeps serving the last good config and reports itself degraded. The local config file then only bootstraps: its admin and store sections are this instance\'s own, and it seeds etcd when etcd holds no config yet.',
  );

const store = z.strictObject({
  etcd: etcdStore.optional(),
  dir: z
    .string()
    .min(1)
    .optional()
    .describe('Directory of the embedded config store: every applied config version and the audit log (default: .sluice/<config file name>/ beside the config file; relative to the config file; unused with etcd). Takes effect at the next start.'),
  maxVersions: z.number().int().min(10).max(100_000).default(1000).describe('Versions kept (on disk, or in etcd); older ones are removed (the audit log keeps their record).'),
});

export const configSchema = z
  .strictObject({
    listeners: z.array(listener).prefault([{ name: 'default', address: '0.0.0.0:8080' }]).describe('Where Sluice accepts traffic.'),
    upstreams: z.array(upstream).default([]).describe('Groups of servers that routes forward to.'),
    routes: z.array(route).default([]).describe('Rules that match requests to upstreams; the most specific wins.'),
    server: server.prefault({}).describe('Settings of the proxy as a whole.'),
    admin: admin.prefault({}).describe('The admin listener: /healthz, /readyz, /api/v1/…'),
    store: store.prefault({}).describe('Where applied config versions are kept: files on local disk (the default), or etcd for many instances. Read from the local config file at start.'),
    observability: observabilitySchema.prefault({}),
    plugins: pluginsSchema.optional().describe('Plugins run for every routed request, before the route\'s and the upstream\'s own (docs/plugins.md).'),
    consumers: consumersSchema,
  })
  .meta({ title: 'Sluice configuration', description: 'Configuration of the Sluice API gateway.' });

/** The config as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The validated config with every default filled in and units normalised (ms, bytes). */
export type SluiceConfig = z.output<typeof configSchema>;
export type ListenerConfig = SluiceConfig['listeners'][number];
export type UpstreamConfig = SluiceConfig['upstreams'][number];
export type TargetConfig = UpstreamConfig['targets'][number];
export type RouteConfig = SluiceConfig['routes'][number];
export type RouteMatchConfig = RouteConfig['match'];
export type StringMatchConfig = z.output<typeof stringMatch>;
export type HeaderOpsConfig = z.output<typeof headerOps>;
export type RetryConfig = z.output<typeof retries>;
export type LoadBalancerName = (typeof LOAD_BALANCERS)[number];
