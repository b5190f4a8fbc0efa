// The config and its versions on the admin API: GET/PUT /api/v1/config (with ?dryRun=true), the version
// history, diffs between versions, rollback, the audit log and the file reload. YAML shown by the API is
// redacted (redact-yaml.ts); a redacted value sent back keeps the running secret.
import type http from 'node:http';
import { stringify } from 'yaml';
import { parseConfig, type ConfigError } from '../config/load.ts';
import { unifiedDiff } from '../config/text-diff.ts';
import type { AuditEntry } from '../store/audit-log.ts';
import type { VersionMeta } from '../store/version-store.ts';
import { ADMIN_ERRORS } from './api-errors.ts';
import type { AdminControl, WriteResult } from './control.ts';
import { redact } from './redact.ts';
import { redactYaml, restoreRedacted } from './redact-yaml.ts';
import { BodyError, fail, json, readBody, text } from './respond.ts';
import type { AdminContext, AdminRoutes } from './router.ts';
import { authorOf, etag, expectedVersion, messageOf, precondition, recordWrite } from './write-context.ts';

const YAML_TYPE = 'application/yaml; charset=utf-8';
const DIFF_TYPE = 'text/x-diff; charset=utf-8';

export function configRoutes(control: AdminControl): AdminRoutes {
  return {
    '/api/v1/config': {
      GET: (req, res, ctx) => {
        const current = control.currentConfig();
        if (!current) return fail(res, 'not_ready', 'no config loaded yet');
        const headers = { etag: etag(current.version) };
        if (wantsYaml(req, ctx)) return text(res, 200, redactYaml(current.text), YAML_TYPE, headers);
        json(res, 200, { version: current.version, loadedAt: current.loadedAt, author: current.meta.author, message: current.meta.message, createdAt: current.meta.createdAt, config: redact(current.config) }, headers);
      },
      PUT: (req, res, ctx) => putConfig(control, req, res, ctx),
    },
    '/api/v1/config/versions': {
      GET: async (_req, res, ctx) => {
        const limit = intParam(ctx, 'limit', 1, 100_000);
        if (limit === null) return fail(res, 'bad_request', 'limit is a whole number from 1 to 100000');
        const versions = (await control.versions()).reverse().slice(0, limit ?? 100_000);
        json(res, 200, { current: control.currentConfig()?.version ?? 0, versions });
      },
    },
    '/api/v1/config/versions/:n': {
      GET: async (req, res, ctx) => {
        const n = versionNumber(ctx.params.n);
        if (n === undefined) return fail(res, 'bad_request', `"${ctx.params.n}" is not a version number`);
        const v = await control.version(n);
        if (!v) return fail(res, 'not_found', `version ${n} is not in the store (see GET /api/v1/config/versions)`);
        const headers = { etag: etag(n) };
        if (wantsYaml(req, ctx)) return text(res, 200, redactYaml(v.text), YAML_TYPE, headers);
        const { text: yaml, ...meta } = v;
        json(res, 200, { ...meta, current: control.currentConfig()?.version === n, yaml: redactYaml(yaml) }, headers);
      },
    },
    '/api/v1/config/diff': {
      GET: async (req, res, ctx) => {
        const current = control.currentConfig()?.version ?? 0;
        const to = ctx.query.has('to') ? versionNumber(ctx.query.get('to')!) : current;
        const from = ctx.query.has('from') ? versionNumber(ctx.query.get('from')!) : to === undefined ? undefined : to - 1;
        if (to === undefined || from === undefined) return fail(res, 'bad_request', 'from and to are version numbers, e.g. ?from=3&to=5 (to defaults to the current version, from to the one before it)');
        const [a, b] = await Promise.all([control.version(from), control.version(to)]);
        const missing = !a ? from : !b ? to : undefined;
        if (missing !== undefined) return fail(res, 'not_found', `version ${missing} is not in the store (see GET /api/v1/config/versions)`);
        const diff = unifiedDiff(redactYaml(a!.text), redactYaml(b!.text), `version ${from}`, `version ${to}`);
        if (ctx.query.get('format') === 'text' || /text\/(x-diff|plain)/.test(req.headers.accept ?? '')) return text(res, 200, diff, DIFF_TYPE);
        json(res, 200, { from, to, diff });
      },
    },
    '/api/v1/config/rollback': {
      POST: (req, res, ctx) => rollback(control, req, res, ctx),
    },
    '/api/v1/reload': {
      POST: async (req, res, ctx) => {
        const result = await control.reload('admin api');
        const actor = authorOf(req, ctx);
        if (result.ok) {
          await recordWrite(control, req, actor, { action: 'config.reload', result: 'ok', status: 200, version: result.version, message: result.changed ? 'config file changed' : 'unchanged' });
          return json(res, 200, result);
        }
        const version = control.currentConfig()?.version;
        await recordWrite(control, req, actor, { action: 'config.reload', result: 'rejected', status: 422, ...(version === undefined ? {} : { version }), errors: result.errors });
        fail(res, 'invalid_config', 'the new config was rejected; the previous one keeps serving', { errors: result.errors });
      },
    },
    '/api/v1/audit': {
      GET: async (_req, res, ctx) => {
        const limit = intParam(ctx, 'limit', 1, 10_000);
        if (limit === null) return fail(res, 'bad_request', 'limit is a whole number from 1 to 10000');
        json(res, 200, { entries: await control.auditEntries(limit ?? 100) });
      },
    },
  };
}

async function putConfig(control: AdminControl, req: http.IncomingMessage, res: http.ServerResponse, ctx: AdminContext): Promise<void> {
  const dryRun = ['true', '1'].includes(ctx.query.get('dryRun') ?? '');
  const actor = authorOf(req, ctx);
  const audit = (fields: Omit<AuditEntry, 'time' | 'actor' | 'remote' | 'action'>) =>
    dryRun ? Promise.resolve() : recordWrite(control, req, actor, { action: 'config.put', ...fields });
  const format = bodyFormat(req.headers['content-type']);
  if (format === undefined) {
    await audit({ result: 'rejected', status: 415 });
    return fail(res, 'unsupported_media_type', 'send the config as application/yaml (or text/yaml) or application/json');
  }
  const pre = precondition(req);
  if (pre.kind === 'invalid') return fail(res, 'bad_request', pre.message);
  if (pre.kind === 'missing' && !dryRun) {
    await audit({ result: 'rejected', status: 428 });
    return fail(res, 'precondition_required', 'send If-Match with the version this config is based on (the ETag of GET /api/v1/config), or If-Match: * to overwrite whatever is current');
  }
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    if (!(err instanceof BodyError)) throw err;
    await audit({ result: 'rejected', status: 413 });
    return fail(res, err.code, err.message);
  }
  const current = control.currentConfig();
  if (!current) return fail(res, 'not_ready', 'no config loaded yet');
  const expected = expectedVersion(pre, current.version);

  // Placeholders first (their errors point into the body as sent), then validation of the body as sent, so
  // line and column match what the client wrote, JSON included (JSON is YAML).
  const restored = restoreRedacted(body, current.text);
  const errors: Array<Omit<ConfigError, 'file'>> = restored.ok ? [] : restored.errors;
  let yaml = restored.ok ? restored.text : body;
  if (errors.length === 0) {
    const parsed = parseConfig(yaml, 'request body');
    if (!parsed.ok) errors.push(...parsed.errors.map(({ file: _file, ...e }) => e));
  }
  if (errors.length > 0) {
    await audit({ result: 'rejected', status: 422, version: current.version, errors: errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`) });
    return fail(res, 'invalid_config', `the config has ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was changed`, { errors });
  }
  // The file stays YAML whatever the body was: a person edits it next.
  if (format === 'json') yaml = stringify(JSON.parse(yaml));

  if (dryRun) {
    if (expected !== undefined && expected !== current.version) return conflict(res, current.version);
    return json(res, 200, {
      dryRun: true,
      valid: true,
      currentVersion: current.version,
      changed: yaml !== current.text,
      diff: unifiedDiff(redactYaml(current.text), redactYaml(yaml), `version ${current.version}`, 'request'),
    }, { etag: etag(current.version) });
  }
  const message = messageOf(req, ctx, 'config written through the admin API');
  const result = await control.write(yaml, { author: actor, message }, expected);
  await answerWrite(control, req, res, actor, 'config.put', result, message, {});
}

async function rollback(control: AdminControl, req: http.IncomingMessage, res: http.ServerResponse, ctx: AdminContext): Promise<void> {
  const actor = authorOf(req, ctx);
  const pre = precondition(req);
  if (pre.kind === 'invalid') return fail(res, 'bad_request', pre.message);
  if (pre.kind === 'missing') {
    await recordWrite(control, req, actor, { action: 'config.rollback', result: 'rejected', status: 428 });
    return fail(res, 'precondition_required', 'send If-Match with the current version (the ETag of GET /api/v1/config), or If-Match: * to roll back whatever is current');
  }
  let to: number | undefined;
  let bodyMessage: string | undefined;
  try {
    const parsed = JSON.parse((await readBody(req)) || '{}') as { version?: unknown; message?: unknown };
    to = typeof parsed.version === 'number' && Number.isInteger(parsed.version) && parsed.version > 0 ? parsed.version : undefined;
    bodyMessage = typeof parsed.message === 'string' && parsed.message.trim() !== '' ? parsed.message.trim() : undefined;
  } catch (err) {
    if (err instanceof BodyError) return fail(res, err.code, err.message);
  }
  if (to === undefined) return fail(res, 'bad_request', 'send a JSON body naming the version to roll back to, e.g. {"version": 3, "message": "why"}');
  const current = control.currentConfig();
  if (!current) return fail(res, 'not_ready', 'no config loaded yet');
  const message = bodyMessage ?? messageOf(req, ctx, `rollback to version ${to}`);
  const result = await control.rollback(to, { author: actor, message }, expectedVersion(pre, current.version));
  await answerWrite(control, req, res, actor, 'config.rollback', result, message, { target: to });
}

/** One mapping from a WriteResult to the audit line and the answer, for PUT and rollback alike. */
async function answerWrite(
  control: AdminControl,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  actor: string,
  action: string,
  result: WriteResult,
  message: string,
  extra: { target?: number },
): Promise<void> {
  const currentVersion = control.currentConfig()?.version;
  const base = { action, message, ...extra };
  if (result.ok) {
    await recordWrite(control, req, actor, { ...base, result: result.changed ? 'ok' : 'unchanged', status: 200, version: result.version.version });
    return json(res, 200, { changed: result.changed, version: result.version satisfies VersionMeta }, { etag: etag(result.version.version) });
  }
  const version = currentVersion === undefined ? {} : { version: currentVersion };
  switch (result.code) {
    case 'version_conflict':
      await recordWrite(control, req, actor, { ...base, ...version, result: 'conflict', status: 409 });
      return conflict(res, result.current);
    case 'invalid_config': {
      const errors = result.errors.map(({ file: _file, ...e }) => e);
      await recordWrite(control, req, actor, { ...base, ...version, result: 'rejected', status: 422, errors: errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`) });
      return fail(res, 'invalid_config', 'the config does not validate; nothing was changed', { errors });
    }
    default: {
      const status = ADMIN_ERRORS[result.code].status;
      await recordWrite(control, req, actor, { ...base, ...version, result: 'failed', status, errors: [result.message] });
      return fail(res, result.code, result.message);
    }
  }
}

function conflict(res: http.ServerResponse, current: number): void {
  fail(res, 'version_conflict', `the config changed: the current version is ${current}; fetch it, reapply your change and send If-Match: "${current}"`, { currentVersion: current }, { etag: etag(current) });
}

function bodyFormat(contentType: string | undefined): 'yaml' | 'json' | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  // curl --data-binary labels its body application/x-www-form-urlencoded unless told otherwise: read as YAML.
  // (A browser form cannot exploit this: it cannot send If-Match, so its write ends at 428.)
  if (['', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain', 'application/x-www-form-urlencoded'].includes(type)) return 'yaml';
  return undefined;
}

function wantsYaml(req: http.IncomingMessage, ctx: AdminContext): boolean {
  const format = ctx.query.get('format');
  if (format !== null) return format === 'yaml';
  return /\b(application|text)\/(x-)?yaml\b/.test(req.headers.accept ?? '');
}

function versionNumber(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,15}$/.test(value) && Number(value) > 0 ? Number(value) : undefined;
}

/** undefined when absent, null when present but out of range. */
function intParam(ctx: AdminContext, name: string, min: number, max: number): number | undefined | null {
  const raw = ctx.query.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  return /^\d+$/.test(raw) && n >= min && n <= max ? n : null;
}
