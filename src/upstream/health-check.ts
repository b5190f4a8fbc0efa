// Active health checking of one target: GET the configured path on an interval (with ±jitterPercent so checks of
// many targets do not align), through the target's own pool, and flip `activeHealthy` after N consecutive results.
import type { UpstreamConfig } from '../config/schema.ts';
import { updateHealth, type UpstreamTarget } from './target.ts';

export type HealthCheckConfig = NonNullable<UpstreamConfig['healthCheck']>;

export interface HealthChange {
  upstream: string;
  target: string;
  healthy: boolean;
  reason: string;
}

export class HealthChecker {
  readonly #target: UpstreamTarget;
  readonly #config: HealthCheckConfig;
  readonly #onChange: (change: HealthChange) => void;
  #timer: NodeJS.Timeout | undefined;
  #passes = 0;
  #failures = 0;
  #stopped = false;
  lastCheck: { at: string; ok: boolean; reason: string } | undefined;

  constructor(target: UpstreamTarget, config: HealthCheckConfig, onChange: (change: HealthChange) => void) {
    this.#target = target;
    this.#config = config;
    this.#onChange = onChange;
  }

  start(): void {
    this.#schedule(Math.random() * Math.min(this.#config.interval, 1000));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#check(), delay);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    const { path, timeout, expectedStatuses } = this.#config;
    let ok: boolean;
    let reason: string;
    try {
      const res = await this.#target.pool.request({
        path,
        method: 'GET',
        headers: { 'user-agent': 'sluice-health-check' },
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout),
      });
      await res.body.dump();
      ok = expectedStatuses ? expectedStatuses.includes(res.statusCode) : res.statusCode >= 200 && res.statusCode < 400;
      reason = `status ${res.statusCode}`;
    } catch (err) {
      ok = false;
      reason = (err as { code?: string }).code ?? (err as Error).message;
    }
    this.lastCheck = { at: new Date().toISOString(), ok, reason };
    this.#record(ok, reason);
    const spread = this.#config.jitterPercent / 100;
    this.#schedule(this.#config.interval * (1 - spread + 2 * spread * Math.random()));
  }

  #record(ok: boolean, reason: string): void {
    const target = this.#target;
    if (ok) {
      this.#failures = 0;
      if (!target.activeHealthy && ++this.#passes >= this.#config.healthyThreshold) this.#flip(true, reason);
    } else {
      this.#passes = 0;
      if (target.activeHealthy && ++this.#failures >= this.#config.unhealthyThreshold) this.#flip(false, reason);
    }
  }

  #flip(healthy: boolean, reason: string): void {
    this.#target.activeHealthy = healthy;
    updateHealth(this.#target);
    this.#passes = 0;
    this.#failures = 0;
    if (!this.#stopped) this.#onChange({ upstream: this.#target.upstreamName, target: this.#target.id, healthy, reason });
  }
}
