// A bounded load loop: N keep-alive clients sending requests back to back until a request count or a time limit
// is reached (or stop() is called), classifying every answer. Used to prove that reloads, health changes and
// worker restarts lose nothing.
import { Agent, request } from 'undici';

export interface LoadFailure {
  at: number;
  path: string;
  status?: number;
  error?: string;
  body?: string;
}

export interface LoadStats {
  sent: number;
  ok: number;
  failures: LoadFailure[];
  /** Answers per value of the `x-upstream` response header. */
  byUpstream: Record<string, number>;
  elapsedMs: number;
}

export interface LoadOptions {
  /** Base URL of the gateway, e.g. http://127.0.0.1:PORT. */
  url: string | (() => string);
  /** Paths requested in turn. */
  paths: string[];
  concurrency?: number;
  maxRequests?: number;
  maxDurationMs?: number;
  /** What counts as success; default: status 200 with an x-upstream header. */
  accept?: (status: number, headers: Record<string, string | string[] | undefined>) => boolean;
  /** Fresh connection per request instead of keep-alive (spreads requests across SO_REUSEPORT workers). */
  fresh?: boolean;
}

export interface LoadRun {
  readonly stats: LoadStats;
  /** Resolves when the loop ended by itself (count or time limit). */
  readonly done: Promise<LoadStats>;
  /** Ends the loop after the requests in flight and resolves with the final numbers. */
  stop(): Promise<LoadStats>;
}

const defaultAccept = (status: number, headers: Record<string, string | string[] | undefined>) => status === 200 && typeof headers['x-upstream'] === 'string';

export function startLoad(options: LoadOptions): LoadRun {
  const { paths, concurrency = 8, maxRequests = 100_000, maxDurationMs = 30_000, accept = defaultAccept, fresh = false } = options;
  const baseUrl = typeof options.url === 'string' ? () => options.url as string : options.url;
  const agent = new Agent({ connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const stats: LoadStats = { sent: 0, ok: 0, failures: [], byUpstream: {}, elapsedMs: 0 };
  const started = Date.now();
  let stopped = false;
  let next = 0;

  async function client(): Promise<void> {
    while (!stopped && stats.sent < maxRequests && Date.now() - started < maxDurationMs) {
      const path = paths[next++ % paths.length]!;
      stats.sent++;
      try {
        const res = await request(baseUrl() + path, {
          dispatcher: agent,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
          ...(fresh ? { headers: { connection: 'close' } } : {}),
        });
        const body = await res.body.text();
        if (accept(res.statusCode, res.headers)) {
          stats.ok++;
          const upstream = res.headers['x-upstream'];
          if (typeof upstream === 'string') stats.byUpstream[upstream] = (stats.byUpstream[upstream] ?? 0) + 1;
        } else {
          stats.failures.push({ at: Date.now() - started, path, status: res.statusCode, body: body.slice(0, 300) });
        }
      } catch (err) {
        const e = err as Error & { code?: string };
        stats.failures.push({ at: Date.now() - started, path, error: `${e.code ?? e.name}: ${e.message}` });
      }
    }
  }

  const done = Promise.all(Array.from({ length: concurrency }, client)).then(async () => {
    stats.elapsedMs = Date.now() - started;
    await agent.close();
    return stats;
  });
  return {
    stats,
    done,
    stop: () => {
      stopped = true;
      return done;
    },
  };
}
