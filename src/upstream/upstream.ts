// An upstream as one snapshot sees it: its targets, its balancer and how to derive the consistent-hash key.
import type { IncomingMessage } from 'node:http';
import type { UpstreamConfig } from '../config/schema.ts';
import { createLoadBalancer } from './balancers/index.ts';
import type { LoadBalancer, PickContext } from './balancers/types.ts';
import type { UpstreamTarget } from './target.ts';

export type HashKeyOf = (req: IncomingMessage, clientIp: string) => string | undefined;

export class Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly targets: readonly UpstreamTarget[];
  readonly #balancer: LoadBalancer<UpstreamTarget>;
  /** Undefined unless the balancer hashes, so other policies pay nothing for key extraction. */
  readonly hashKeyOf: HashKeyOf | undefined;

  constructor(config: UpstreamConfig, targets: readonly UpstreamTarget[]) {
    this.name = config.name;
    this.config = config;
    this.targets = targets;
    this.#balancer = createLoadBalancer(config.loadBalancer, targets);
    this.hashKeyOf = config.loadBalancer === 'consistent-hash' ? hashKeyExtractor(config.hashOn) : undefined;
  }

  pickTarget(ctx?: PickContext): UpstreamTarget | undefined {
    return this.#balancer.pick(ctx);
  }
}

function hashKeyExtractor(hashOn: UpstreamConfig['hashOn']): HashKeyOf {
  if (hashOn === 'client-ip') return (_req, clientIp) => clientIp;
  if ('header' in hashOn) {
    const name = hashOn.header;
    return function headerKey(req) {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
  }
  const cookie = hashOn.cookie;
  return function cookieKey(req) {
    return readCookie(req.headers.cookie, cookie);
  };
}

/** The value of one cookie from a Cookie header (RFC 6265 §5.4 syntax: "a=1; b=2"). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
