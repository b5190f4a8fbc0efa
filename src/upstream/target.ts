// One upstream server as the data plane sees it: its connection pool and the live counters balancers read.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { TargetConfig, UpstreamConfig } from '../config/schema.ts';
import type { BalancerTarget } from './balancers/types.ts';

export class UpstreamTarget implements BalancerTarget {
  readonly id: string;
  readonly upstreamName: string;
  readonly weight: number;
  /** "host:port" as a Host header would carry it (default ports omitted). */
  readonly authority: string;
  readonly pool: Pool;
  /** Identity of the pool's settings: a reload with the same key reuses this target and its connections. */
  readonly key: string;
  inFlight = 0;
  healthy = true;

  constructor(upstream: UpstreamConfig, target: TargetConfig, key: string) {
    const url = new URL(target.url);
    this.id = url.origin;
    this.upstreamName = upstream.name;
    this.weight = target.weight;
    this.authority = url.host;
    this.key = key;
    const tls = upstream.tls;
    this.pool = new Pool(url.origin, {
      connections: upstream.connections,
      pipelining: upstream.pipelining,
      keepAliveTimeout: upstream.keepAliveTimeout,
      connect: {
        timeout: upstream.connectTimeout,
        ...(url.protocol === 'https:'
          ? {
              rejectUnauthorized: !tls.insecureSkipVerify,
              ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
              servername: tls.serverName ?? url.hostname,
            }
          : {}),
      },
    });
  }
}

/** The settings that shape a target's pool; equal keys mean the pool can be shared across snapshots. */
export function targetKey(upstream: UpstreamConfig, target: TargetConfig): string {
  const { connections, pipelining, keepAliveTimeout, connectTimeout, tls } = upstream;
  return JSON.stringify([upstream.name, new URL(target.url).origin, target.weight, connections, pipelining, keepAliveTimeout, connectTimeout, tls]);
}
