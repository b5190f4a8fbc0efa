// The body of POST /api/v1/rollouts, checked: the candidate (`text`, YAML or JSON, or `version: N` for an old
// version's text), who gets it (`selector`), for how long it is watched (`window`) and against what (`thresholds`).
// Each problem is one line naming the field.
import { z } from 'zod';
import { duration } from '../config/units.ts';
import type { RolloutSelector, RolloutThresholds } from '../rollout/types.ts';

const body = z.strictObject({
  text: z.string().min(1).optional(),
  version: z.number().int().min(1).optional(),
  message: z.string().max(2000).optional(),
  selector: z
    .strictObject({
      labels: z.record(z.string(), z.string()).optional(),
      percent: z.number().min(1).max(100).optional(),
    })
    .default({}),
  window: duration.default(60_000).refine((ms) => ms >= 1000 && ms <= 86_400_000, 'window is from 1s to 24h'),
  thresholds: z
    .strictObject({
      maxErrorRate: z.number().min(0).max(1).default(0.01),
      maxP99: duration.default(1000),
      minRequests: z.number().int().min(1).default(50),
    })
    .default({ maxErrorRate: 0.01, maxP99: 1000, minRequests: 50 }),
});

export type RolloutBody =
  | { ok: true; text?: string; version?: number; message?: string; selector: RolloutSelector; window: number; thresholds: RolloutThresholds }
  | { ok: false; message: string };

/**
 * @example
 * parseRolloutBody('{"version": 3, "selector": {"labels": {"zone": "a"}}, "window": "30s"}');
 * // { ok: true, version: 3, selector: { labels: { zone: 'a' } }, window: 30000, thresholds: { maxErrorRate: 0.01, maxP99: 1000, minRequests: 50 } }
 */
export function parseRolloutBody(raw: string): RolloutBody {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, message: 'send a JSON body, e.g. {"text": "<the YAML>", "selector": {"labels": {"zone": "a"}}, "window": "60s", "thresholds": {"maxErrorRate": 0.01, "maxP99": "500ms", "minRequests": 50}}' };
  }
  const parsed = body.safeParse(json);
  if (!parsed.success) return { ok: false, message: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') };
  const b = parsed.data;
  if ((b.text === undefined) === (b.version === undefined)) return { ok: false, message: 'give the candidate as either "text" (the whole config, YAML or JSON) or "version" (a stored version to roll out again), not both' };
  return { ok: true, ...b, selector: b.selector as RolloutSelector, thresholds: b.thresholds };
}
