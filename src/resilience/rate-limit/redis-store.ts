// Rate-limit buckets in Redis, shared by every Sluice instance: one Lua script does the whole GCRA step
// atomically on the server (read TAT, decide, write TAT with an expiry), with the server's clock (TIME), so
// instances whose clocks disagree still share one exact bucket. The script is sent by SHA (EVALSHA) and loaded
// with EVAL only when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
//
// Redis unreachable: requests are decided by the failure mode (open: allow, closed: deny with 429) without
// waiting — commands are not queued while disconnected and time out after commandTimeoutMs — and the outage is
// reported once when it starts and once when it ends, never per request.
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { emissionIntervalMs, type Rate } from './rate.ts';
import { OutageTracker } from '../outage.ts';
import { degradedDecision, type FailureMode, type RateLimitDecision, type RateLimitStore, type StoreOutage } from './store.ts';

// KEYS[1] bucket; ARGV[1] emission interval ms (float), ARGV[2] burst, ARGV[3] cost.
// Returns { allowed 0/1, remaining, resetMs, retryAfterMs } as integers (Lua numbers become Redis integers).
// TIME is allowed in scripts since Redis 5 replicates scripts by their effects, not by re-running them.
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tau = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local newTat = tat + cost * interval
local ahead = newTat - now
if ahead > tau + 1e-6 then
  local remaining = math.floor((tau - (tat - now)) / interval + 1e-9)
  if remaining < 0 then remaining = 0 end
  return { 0, remaining, math.ceil(tat - now), math.ceil(ahead - tau) }
end
redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', math.max(1, math.ceil(ahead)))
local remaining = math.floor((tau - ahead) / interval + 1e-9)
if remaining < 0 then remaining = 0 end
return { 1, remaining, math.ceil(ahead), 0 }
`;

const GCRA_SHA = createHash('sha1').update(GCRA_SCRIPT).digest('hex');

export interface RedisStoreOptions {
  /** redis://[:password@]host:port[/db]; ignored when `client` is given. Default redis://127.0.0.1:6379. */
  url?: string;
  /** An existing client (its options are the caller's business; see redisClientOptions for the ones to use). */
  client?: Redis;
  /** Prefix of every bucket key. Default "sluice:rl:". */
  keyPrefix?: string;
  /** Decision when Redis cannot answer. Default 'open'. */
  failureMode?: FailureMode;
  /** A command slower than this counts as a failure, ms. Default 100. */
  commandTimeoutMs?: number;
  /** Called once when Redis becomes unreachable and once when it answers again. */
  onOutage?: (event: StoreOutage) => void;
}

/**
 * The ioredis options a rate-limit client needs: fail fast instead of queueing while disconnected (a request must
 * not wait for a reconnect), keep reconnecting in the background, never resend a take after a reconnect (it may
 * have been counted already).
 */
export function redisClientOptions(commandTimeoutMs = 100): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: false,
  };
}

/**
 * @example
 * const store = new RedisRateLimitStore({ url: 'redis://127.0.0.1:6379', failureMode: 'open',
 *   onOutage: (e) => log.warn(e, e.down ? 'rate-limit store unreachable' : 'rate-limit store back') });
 * await store.ready(); // at startup: exit 2 if Redis cannot be reached
 * const d = await store.take(key, rate, burst);
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #mode: FailureMode;
  readonly #outage: OutageTracker;

  constructor(options: RedisStoreOptions = {}) {
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new Redis(options.url ?? 'redis://127.0.0.1:6379', redisClientOptions(options.commandTimeoutMs));
    this.#prefix = options.keyPrefix ?? 'sluice:rl:';
    this.#mode = options.failureMode ?? 'open';
    this.#outage = new OutageTracker('redis', options.onOutage ?? (() => {}));
    // ioredis reports connection errors as 'error' events and prints them when nobody listens. They are the
    // same errors the takes see, and the outage tracker reports those once; nothing more to do here.
    this.#client.on('error', () => {});
  }

  /** Resolves once connected (rejects after `timeoutMs`): for startup, where an unreachable store is exit 2. */
  ready(timeoutMs = 5000): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        reject(new Error(`redis not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('ready', onReady);
    });
  }

  /** Whether the store is currently in an outage (answers are decided by the failure mode). */
  get down(): boolean {
    return this.#outage.down;
  }

  async take(key: string, rate: Rate, burst: number, cost = 1): Promise<RateLimitDecision> {
    const args = [this.#prefix + key, emissionIntervalMs(rate), burst, cost] as const;
    try {
      let reply: unknown;
      try {
        reply = await this.#client.evalsha(GCRA_SHA, 1, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        reply = await this.#client.eval(GCRA_SCRIPT, 1, ...args);
      }
      this.#outage.succeeded();
      const [allowed, remaining, resetMs, retryAfterMs] = reply as [number, number, number, number];
      return { allowed: allowed === 1, remaining, resetMs, retryAfterMs };
    } catch (err) {
      this.#outage.failed(err);
      return degradedDecision(this.#mode, rate);
    }
  }

  async close(): Promise<void> {
    if (!this.#ownsClient) return;
    this.#client.disconnect();
  }
}
