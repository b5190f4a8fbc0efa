// Sluice's own structured log (pino, JSON lines on stdout): lifecycle, reloads, errors. Request access logs are
// a separate stream (see docs/observability.md) so they can be sampled and shipped on their own.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'sluice',
    level: options.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
