// One upstream server as the data plane sees it: its connection pool and the live counters balancers read.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Pool, buildConnector } from 'undici';
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
  /**
   * The TLS name for https targets, passed with every request: undici reconnects whenever a request's name differs
   * from the connection's, and would take it from the Host header if not given. undefined for http targets.
   */
  readonly servername: string | undefined;
  inFlight = 0;
  /**
   * What balancers read: active health checks pass (or none run), outlier detection has not ejected the target,
   * and its own circuit breaker is not open. Kept current by updateHealth(); never set directly.
   */
  healthy = true;
  /** Active health checks' verdict (true when none run). */
  activeHealthy = true;
  /** Ejected by outlier detection (passive health). */
  ejected = false;
  /** This target's circuit breaker is open. */
  circuitOpen = false;
  /**
   * Bumped whenever any target's `healthy` flips, so an upstream recomputes its panic state (upstream.ts) only
   * after a change instead of counting healthy targets on every pick.
   */
  static healthEpoch = 0;

  constructor(upstream: UpstreamConfig, target: Pick<TargetConfig, 'url' | 'weight'>, key: string) {
    const url = new URL(target.url);
    this.id = url.origin;
    this.upstreamName = upstream.name;
    this.weight = target.weight;
    this.authority = url.host;
    this.key = key;
    const tls = upstream.tls;
    const https = url.protocol === 'https:';
    // url.hostname keeps an IPv6 literal's brackets; TLS wants the bare address.
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.servername = https ? (tls.serverName ?? hostname) : undefined;
    const connect = buildConnector({
      timeout: upstream.connectTimeout,
      // HTTP/1.1 only: upgrades (WebSocket) are spliced as raw HTTP/1.1 sockets, and undici 8 would otherwise
      // negotiate h2 with any upstream that offers it.
      allowH2: false,
      ...(https
        ? {
            rejectUnauthorized: !tls.insecureSkipVerify,
            ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
          }
        : {}),
    });
    // SNI and the name the certificate is checked against are the target's (or tls.serverName), never the
    // request's Host: undici would otherwise derive them from the Host header, which Sluice preserves from the
    // client. An IP address is not a valid SNI name (RFC 6066 §3): then no SNI is sent and the certificate is
    // checked against the address itself.
    const sni = this.servername !== undefined && isIP(this.servername) === 0 ? this.servername : undefined;
    this.pool = new Pool(url.origin, {
      connections: upstream.connections,
      pipelining: upstream.pipelining,
      keepAliveTimeout: upstream.keepAliveTimeout,
      allowH2: false,
      connect: https ? (options, callback) => connect({ ...options, servername: sni }, callback) : connect,
    });
  }
}

/** Recomputes `healthy` from its three sources; call after changing any of them. */
export function updateHealth(target: UpstreamTarget): void {
  const healthy = target.activeHealthy && !target.ejected && !target.circuitOpen;
  if (healthy === target.healthy) return;
  target.healthy = healthy;
  UpstreamTarget.healthEpoch++;
}

/** The settings that shape a target's pool; equal keys mean the pool can be shared across snapshots. */
export function targetKey(upstream: UpstreamConfig, target: Pick<TargetConfig, 'url' | 'weight'>): string {
  const { connections, pipelining, keepAliveTimeout, connectTimeout, tls } = upstream;
  return JSON.stringify([upstream.name, new URL(target.url).origin, target.weight, connections, pipelining, keepAliveTimeout, connectTimeout, tls]);
}
