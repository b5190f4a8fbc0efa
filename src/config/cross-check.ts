// Checks the schema cannot express: references between sections, uniqueness, overlapping addresses, patterns
// that must compile. It reads the config defensively, so it can run on a config that failed schema validation
// and report these mistakes in the same pass.
import { addressesOverlap, isIpOrCidr, parseListenAddress } from './address.ts';
import type { ListenAddress } from './address.ts';
import { sha256Credential } from './consumers-schema.ts';
import { suggestion } from './did-you-mean.ts';
import { formatPath } from './problem.ts';
import type { ConfigPath, ConfigProblem } from './problem.ts';

/** Where a path is written, for messages like "(first defined at line 3)"; undefined when not known. */
export type LineOf = (path: ConfigPath) => number | undefined;

// Mirrors the schema's defaults: what the gateway uses when the file leaves these out.
const DEFAULT_LISTENER = { name: 'default', address: '0.0.0.0:8080' };
const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:9901';

/**
 * Every cross-reference and consistency problem in a config (as written, or as validated).
 *
 * @example
 * crossCheck({ upstreams: [{ name: 'users' }], routes: [{ name: 'r', upstream: 'userz' }] });
 * // [{ path: ['routes', 0, 'upstream'], message: 'unknown upstream "userz" (did you mean "users"?)' }]
 */
export function crossCheck(config: unknown, lineOf: LineOf = () => undefined): ConfigProblem[] {
  const root = asMap(config) ?? {};
  const where = (path: ConfigPath) => {
    const line = lineOf(path);
    return line === undefined ? formatPath(path) : `line ${line}`;
  };
  return [
    ...duplicateNames(root, 'listeners', 'listener', where),
    ...duplicateNames(root, 'upstreams', 'upstream', where),
    ...duplicateNames(root, 'routes', 'route', where),
    ...listenerAddresses(root, where),
    ...upstreamTargets(root, where),
    ...routeReferences(root),
    ...routeRateLimits(root),
    ...pluginRateLimitStores(root),
    ...consumers(root, where),
    ...routePaths(root),
    ...trustedProxies(root),
  ];
}

function duplicateNames(root: Record<string, unknown>, section: string, kind: string, where: (p: ConfigPath) => string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const first = new Map<string, number>();
  asList(root[section]).forEach((item, i) => {
    const name = asMap(item)?.name;
    if (typeof name !== 'string') return;
    const firstIndex = first.get(name);
    if (firstIndex === undefined) first.set(name, i);
    else problems.push({ path: [section, i, 'name'], message: `duplicate ${kind} name "${name}" (first defined at ${where([section, firstIndex, 'name'])})` });
  });
  return problems;
}

interface Bound {
  owner: string;
  text: string;
  address: ListenAddress;
  /** Where the address is written, or for a default, where it comes from and how to change it. */
  origin: { path: ConfigPath } | { note: string };
}

function listenerAddresses(root: Record<string, unknown>, where: (p: ConfigPath) => string): ConfigProblem[] {
  const bound: Bound[] = [];
  const bind = (owner: string, text: unknown, origin: Bound['origin']) => {
    const address = typeof text === 'string' ? parseListenAddress(text) : undefined;
    if (address) bound.push({ owner, text: text as string, address, origin });
  };
  if (root.listeners === undefined) {
    bind(`listener "${DEFAULT_LISTENER.name}"`, DEFAULT_LISTENER.address, { note: 'the default when listeners is not set' });
  }
  asList(root.listeners).forEach((item, i) => {
    const listener = asMap(item);
    bind(`listener "${typeof listener?.name === 'string' ? listener.name : i}"`, listener?.address, { path: ['listeners', i, 'address'] });
  });
  const admin = asMap(root.admin);
  if (typeof admin?.address === 'string') bind('the admin server', admin.address, { path: ['admin', 'address'] });
  else bind('the admin server', DEFAULT_ADMIN_ADDRESS, { note: 'its default; set admin.address to move it' });

  const problems: ConfigProblem[] = [];
  const describe = (b: Bound, seenFrom: Bound) => {
    const on = b.text === seenFrom.text ? '' : ` on ${b.text}`;
    return `${b.owner}${on} (${'path' in b.origin ? where(b.origin.path) : b.origin.note})`;
  };
  bound.forEach((b, i) => {
    if ('path' in b.origin && b.address.port > 65_535) {
      problems.push({ path: b.origin.path, message: `port ${b.address.port} is out of range: use 1-65535, or 0 for any free port` });
      return;
    }
    const earlier = bound.slice(0, i).find((a) => addressesOverlap(a.address, b.address));
    if (!earlier) return;
    // Report on the one written in the file; of two written, on the later one.
    const [at, other] = 'path' in b.origin ? [b, earlier] : [earlier, b];
    if (!('path' in at.origin)) return;
    const relation = at.address.host === other.address.host ? 'is already used by' : 'overlaps';
    problems.push({ path: at.origin.path, message: `${at.text} ${relation} ${describe(other, at)}` });
  });
  return problems;
}

function upstreamTargets(root: Record<string, unknown>, where: (p: ConfigPath) => string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  asList(root.upstreams).forEach((item, i) => {
    const first = new Map<string, number>();
    asList(asMap(item)?.targets).forEach((target, j) => {
      const url = asMap(target)?.url;
      if (typeof url !== 'string') return;
      const key = originOf(url);
      const firstIndex = first.get(key);
      if (firstIndex === undefined) first.set(key, j);
      else problems.push({ path: ['upstreams', i, 'targets', j, 'url'], message: `duplicate target ${url} (first listed at ${where(['upstreams', i, 'targets', firstIndex, 'url'])}); use weight to send it more traffic` });
    });
  });
  return problems;
}

function routeReferences(root: Record<string, unknown>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const upstreamNames = namesIn(root.upstreams);
  const listenerNames = root.listeners === undefined ? [DEFAULT_LISTENER.name] : namesIn(root.listeners);
  asList(root.routes).forEach((item, i) => {
    const route = asMap(item);
    if (!route) return;
    const checkUpstream = (path: ConfigPath, name: unknown) => {
      if (typeof name !== 'string' || !Array.isArray(root.upstreams ?? []) || upstreamNames.includes(name)) return;
      const hint = upstreamNames.length === 0 ? ' (no upstreams are defined)' : suggestion(name, upstreamNames);
      problems.push({ path, message: `unknown upstream "${name}"${hint}` });
    };
    checkUpstream(['routes', i, 'upstream'], route.upstream);
    asList(route.upstreams).forEach((entry, j) => checkUpstream(['routes', i, 'upstreams', j, 'name'], asMap(entry)?.name));
    checkUpstream(['routes', i, 'mirror', 'upstream'], asMap(route.mirror)?.upstream);
    asList(route.listeners).forEach((name, j) => {
      if (typeof name === 'string' && !listenerNames.includes(name)) {
        problems.push({ path: ['routes', i, 'listeners', j], message: `unknown listener "${name}"${suggestion(name, listenerNames)}` });
      }
    });
  });
  return problems;
}

/** One rate limit per route (rateLimit or a rate-limit plugin), and a Redis to keep shared buckets in. */
function routeRateLimits(root: Record<string, unknown>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const redis = asMap(asMap(asMap(root.server)?.rateLimit)?.redis);
  asList(root.routes).forEach((item, i) => {
    const route = asMap(item);
    if (!route) return;
    const limits: { path: ConfigPath; config: Record<string, unknown> | undefined }[] = [];
    if (route.rateLimit !== undefined) limits.push({ path: ['routes', i, 'rateLimit'], config: asMap(route.rateLimit) });
    asList(route.plugins).forEach((plugin, j) => {
      const entry = asMap(plugin);
      if (entry && 'rate-limit' in entry) limits.push({ path: ['routes', i, 'plugins', j, 'rate-limit'], config: asMap(entry['rate-limit']) });
    });
    limits.slice(1).forEach(({ path }) => problems.push({ path, message: 'a route takes one rate limit: keep either rateLimit or one rate-limit plugin' }));
    for (const { path, config } of limits) {
      if (config?.store === 'redis' && !redis) {
        problems.push({ path: [...path, 'store'], message: 'store: redis needs server.rateLimit.redis (e.g. { url: redis://127.0.0.1:6379 })' });
      }
    }
  });
  return problems;
}

/** A rate-limit plugin at the top level or on an upstream with store: redis needs a Redis too. */
function pluginRateLimitStores(root: Record<string, unknown>): ConfigProblem[] {
  if (asMap(asMap(asMap(root.server)?.rateLimit)?.redis)) return [];
  const lists: { path: ConfigPath; list: unknown[] }[] = [{ path: ['plugins'], list: asList(root.plugins) }];
  asList(root.upstreams).forEach((u, i) => lists.push({ path: ['upstreams', i, 'plugins'], list: asList(asMap(u)?.plugins) }));
  const problems: ConfigProblem[] = [];
  for (const { path, list } of lists) {
    list.forEach((plugin, j) => {
      if (asMap(asMap(plugin)?.['rate-limit'])?.store === 'redis') {
        problems.push({ path: [...path, j, 'rate-limit', 'store'], message: 'store: redis needs server.rateLimit.redis (e.g. { url: redis://127.0.0.1:6379 })' });
      }
    });
  }
  return problems;
}

/** Consumer ids, API keys and basic-auth user names each identify one consumer. */
function consumers(root: Record<string, unknown>, where: (p: ConfigPath) => string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const ids = new Map<string, ConfigPath>();
  const keys = new Map<string, ConfigPath>();
  const users = new Map<string, ConfigPath>();
  const claim = (seen: Map<string, ConfigPath>, value: string, path: ConfigPath, what: string) => {
    const first = seen.get(value);
    if (first === undefined) seen.set(value, path);
    else problems.push({ path, message: `${what} (first at ${where(first)})` });
  };
  asList(root.consumers).forEach((item, i) => {
    const consumer = asMap(item);
    if (!consumer) return;
    if (typeof consumer.id === 'string') claim(ids, consumer.id, ['consumers', i, 'id'], `duplicate consumer id "${consumer.id}"`);
    asList(consumer.keys).forEach((k, j) => {
      const key = asMap(k);
      const hash = typeof key?.key === 'string' ? sha256Credential(key.key) : typeof key?.keyHash === 'string' ? key.keyHash.toLowerCase() : undefined;
      // The message never repeats the key: config errors are logged.
      if (hash !== undefined) claim(keys, hash, ['consumers', i, 'keys', j], 'this API key is already given to another consumer entry');
    });
    const username = asMap(consumer.basicAuth)?.username;
    if (typeof username === 'string') claim(users, username, ['consumers', i, 'basicAuth', 'username'], `duplicate basic-auth username "${username}"`);
  });
  return problems;
}

function routePaths(root: Record<string, unknown>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const checkRegex = (path: ConfigPath, source: unknown) => {
    const error = regexError(source);
    if (error) problems.push({ path, message: error });
  };
  asList(root.routes).forEach((item, i) => {
    const route = asMap(item);
    if (!route) return;
    const match = asMap(route.match) ?? {};
    checkRegex(['routes', i, 'match', 'pathRegex'], match.pathRegex);
    for (const section of ['headers', 'query'] as const) {
      for (const [name, predicate] of Object.entries(asMap(match[section]) ?? {})) {
        checkRegex(['routes', i, 'match', section, name, 'regex'], asMap(predicate)?.regex);
      }
    }
    const rewrite = asMap(route.rewrite);
    checkRegex(['routes', i, 'rewrite', 'regex'], rewrite?.regex);
    const pathPrefix = typeof match.pathPrefix === 'string' ? match.pathPrefix : undefined;
    if (rewrite && typeof rewrite.prefix === 'string' && pathPrefix === undefined) {
      problems.push({ path: ['routes', i, 'rewrite', 'prefix'], message: 'rewrite.prefix replaces the matched prefix, so the route needs match.pathPrefix' });
    }
    const strip = route.stripPrefix;
    if (typeof strip === 'string' && pathPrefix !== undefined && !startsOnSegment(pathPrefix, strip)) {
      problems.push({ path: ['routes', i, 'stripPrefix'], message: `stripPrefix ${strip} does not start the route's pathPrefix ${pathPrefix}` });
    }
  });
  return problems;
}

function trustedProxies(root: Record<string, unknown>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  asList(asMap(root.server)?.trustedProxies).forEach((entry, i) => {
    if (typeof entry === 'string' && !isIpOrCidr(entry)) {
      problems.push({ path: ['server', 'trustedProxies', i], message: `"${entry}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, 192.168.1.10 or ::1)` });
    }
  });
  return problems;
}

/** The JS error for a pattern that does not compile, e.g. "invalid regular expression: /(/: Unterminated group". */
function regexError(source: unknown): string | undefined {
  if (typeof source !== 'string') return undefined;
  try {
    new RegExp(source);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    return message.charAt(0).toLowerCase() + message.slice(1);
  }
}

/** pathPrefix matches on segment boundaries, so stripPrefix must end on one too: /api starts /api/users, /ap does not. */
function startsOnSegment(pathPrefix: string, strip: string): boolean {
  if (strip === '/' || pathPrefix === strip) return true;
  const base = strip.endsWith('/') ? strip : `${strip}/`;
  return pathPrefix.startsWith(base);
}


/** Scheme, host and port as the pool sees them: case and default ports do not make a different target. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url.toLowerCase();
  }
}

function namesIn(section: unknown): string[] {
  return asList(section)
    .map((item) => asMap(item)?.name)
    .filter((name): name is string => typeof name === 'string');
}

function asMap(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
