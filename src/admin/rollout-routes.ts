// Staged rollouts on the admin API (docs/distributed.md, "Staged rollout"): the fleet (GET /api/v1/instances),
// starting a rollout, how it stands, finished ones, and ending one by hand. They need instances sharing etcd;
// with a file store every endpoint answers 409 rollout_needs_etcd.
import type http from 'node:http';
import { stringify } from 'yaml';
import { parseConfig } from '../config/load.ts';
import type { RolloutAdmin, RolloutResult } from '../rollout/types.ts';
import type { AdminControl } from './control.ts';
import { restoreRedacted } from './redact-yaml.ts';
import { BodyError, fail, json, readBody } from './respond.ts';
import type { AdminContext, AdminRoutes } from './router.ts';
import { parseRolloutBody } from './rollout-request.ts';
import { authorOf, messageOf, recordWrite } from './write-context.ts';

type Handler = (rollouts: RolloutAdmin, req: http.IncomingMessage, res: http.ServerResponse, ctx: AdminContext) => Promise<void>;

export function rolloutRoutes(control: AdminControl): AdminRoutes {
  const needsEtcd = (handler: Handler) => async (req: http.IncomingMessage, res: http.ServerResponse, ctx: AdminContext) => {
    const rollouts = control.rollouts?.();
    if (!rollouts) return fail(res, 'rollout_needs_etcd', 'a staged rollout needs instances that share their config through etcd (store.etcd, see docs/distributed.md); this instance keeps its config in a file');
    await handler(rollouts, req, res, ctx);
  };
  return {
    '/api/v1/instances': {
      GET: needsEtcd(async (rollouts, _req, res) => json(res, 200, { instances: await rollouts.instances() })),
    },
    '/api/v1/rollouts': {
      GET: needsEtcd(async (rollouts, _req, res, ctx) => {
        const limit = Number(ctx.query.get('limit') ?? 20);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) return fail(res, 'bad_request', 'limit is a whole number from 1 to 100');
        const status = await rollouts.status();
        json(res, 200, { current: status?.rollout.state === 'observing' ? status : null, rollouts: await rollouts.list(limit) });
      }),
      POST: needsEtcd((rollouts, req, res, ctx) => startRollout(control, rollouts, req, res, ctx)),
    },
    '/api/v1/rollouts/current': {
      GET: needsEtcd(async (rollouts, _req, res) => {
        const status = await rollouts.status();
        if (!status) return fail(res, 'not_found', 'no rollout has been started yet (POST /api/v1/rollouts)');
        json(res, 200, status);
      }),
    },
    '/api/v1/rollouts/current/promote': {
      POST: needsEtcd((rollouts, req, res, ctx) => endRollout(control, rollouts, 'promote', req, res, ctx)),
    },
    '/api/v1/rollouts/current/abort': {
      POST: needsEtcd((rollouts, req, res, ctx) => endRollout(control, rollouts, 'abort', req, res, ctx)),
    },
  };
}

async function startRollout(control: AdminControl, rollouts: RolloutAdmin, req: http.IncomingMessage, res: http.ServerResponse, ctx: AdminContext): Promise<void> {
  const actor = authorOf(req, ctx);
  const current = control.currentConfig();
  if (!current) return fail(res, 'not_ready', 'no config loaded yet');
  let raw: string;
  try {
    raw = await readBody(req);
  } catch (err) {
    if (err instanceof BodyError) return fail(res, err.code, err.message);
    throw err;
  }
  const body = parseRolloutBody(raw);
  if (!body.ok) return fail(res, 'bad_request', body.message);
  let text: string;
  if (body.version !== undefined) {
    const stored = await control.version(body.version);
    if (!stored) return fail(res, 'not_found', `version ${body.version} is not in the store (see GET /api/v1/config/versions)`);
    text = stored.text;
  } else {
    // As PUT /config: redacted placeholders keep the running secrets, then the same validation.
    const restored = restoreRedacted(body.text!, current.text);
    if (!restored.ok) return fail(res, 'invalid_config', 'the candidate config does not validate; nothing was started', { errors: restored.errors });
    const parsed = parseConfig(restored.text, 'request body');
    if (!parsed.ok) return fail(res, 'invalid_config', `the candidate config has ${parsed.errors.length} error${parsed.errors.length === 1 ? '' : 's'}; nothing was started`, { errors: parsed.errors.map(({ file: _file, ...e }) => e) });
    // A JSON candidate is stored as YAML, as PUT /config does.
    text = restored.text.trimStart().startsWith('{') ? stringify(JSON.parse(restored.text)) : restored.text;
  }
  const message = body.message ?? messageOf(req, ctx, body.version === undefined ? 'staged rollout' : `staged rollout of version ${body.version}`);
  const result = await rollouts.start(
    { text, message, ...(body.version === undefined ? {} : { fromVersion: body.version }), selector: body.selector, thresholds: body.thresholds, window: body.window },
    actor,
  );
  const version = control.currentConfig()?.version;
  if (!result.ok) {
    await recordWrite(control, req, actor, { action: 'rollout.start', result: 'rejected', status: statusOf(result), ...(version === undefined ? {} : { version }), message, errors: [result.message] });
    return fail(res, result.code, result.message);
  }
  const { rollout } = result;
  await recordWrite(control, req, actor, {
    action: 'rollout.start',
    result: 'ok',
    status: 201,
    version: rollout.baseVersion,
    message: `rollout ${rollout.id} to ${rollout.canaries.join(', ')} for ${rollout.window / 1000} s: ${message}`,
  });
  const { text: _text, ...shown } = rollout;
  json(res, 201, { rollout: shown });
}

async function endRollout(control: AdminControl, rollouts: RolloutAdmin, action: 'promote' | 'abort', req: http.IncomingMessage, res: http.ServerResponse, ctx: AdminContext): Promise<void> {
  const actor = authorOf(req, ctx);
  const given = messageOf(req, ctx, '');
  const result = await rollouts.end(action, actor, given === '' ? undefined : given);
  if (!result.ok) return fail(res, result.code, result.message);
  const { text: _text, ...shown } = result.rollout;
  json(res, 200, { rollout: shown });
}

function statusOf(result: Extract<RolloutResult, { ok: false }>): number {
  return { bad_request: 400, not_found: 404, rollout_in_progress: 409, version_conflict: 409, store_failed: 500 }[result.code];
}
