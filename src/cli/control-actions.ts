// What the admin-API commands do (control-commands.ts defines them): one or two requests each, printed as a
// table for people or as JSON/YAML for scripts. Failures become CliError with DESIGN.md's exit code.
import { readFile } from 'node:fs/promises';
import { adminTarget, call, CliError, defaultAuthor, expectOk, type AdminAnswer, type AdminTarget } from './admin-client.ts';
import type { AdminOptions, ApplyOptions } from './control-commands.ts';
import { printedStructured, table, type Output } from './output.ts';

interface VersionMeta {
  version: number;
  createdAt: string;
  author: string;
  message: string;
  source: string;
  rollbackOf?: number;
}

interface FieldError {
  line: number;
  column: number;
  path: string;
  message: string;
}

const out = (text: string) => process.stdout.write(text);

export async function configGet(version: number | undefined, opts: AdminOptions): Promise<void> {
  const target = adminTarget(opts);
  const path = version === undefined ? '/api/v1/config' : `/api/v1/config/versions/${version}`;
  if (opts.output === 'json') {
    out((expectOk(await call(target, 'GET', path), 'cannot read the config')).text);
    return;
  }
  const answer = expectOk(await call(target, 'GET', path, { headers: { accept: 'application/yaml' } }), 'cannot read the config');
  out(answer.text);
}

export async function configApply(opts: AdminOptions & ApplyOptions): Promise<void> {
  const target = adminTarget(opts);
  const body = await readLocal(opts.file);
  const contentType = /\.json$/i.test(opts.file) ? 'application/json' : 'application/yaml';
  if (opts.dryRun) return dryRun(target, opts.file, body, contentType, opts.output);

  const ifMatch = opts.force ? '*' : `"${opts.ifMatch ?? (await currentVersion(target))}"`;
  const query = opts.message === undefined ? '' : `?message=${encodeURIComponent(opts.message)}`;
  const answer = await call(target, 'PUT', `/api/v1/config${query}`, {
    body,
    headers: { 'content-type': contentType, 'if-match': ifMatch, 'x-sluice-author': encodeHeader(opts.author ?? defaultAuthor()) },
  });
  if (answer.status === 409) {
    throw new CliError(`the running config changed meanwhile (now version ${String(answer.json?.currentVersion)}); review it with \`sluice config diff -f ${opts.file}\` and apply again, or use --force`, 1);
  }
  failOnInvalid(answer, opts.file);
  expectOk(answer, `cannot apply ${opts.file}`);
  if (printedStructured(answer.json, opts.output)) return;
  const version = answer.json!.version as VersionMeta;
  out(answer.json!.changed ? `applied ${opts.file} as version ${version.version}\n` : `unchanged: the running config (version ${version.version}) is already ${opts.file}\n`);
}

async function dryRun(target: AdminTarget, file: string, body: string, contentType: string, output: Output | undefined): Promise<void> {
  const answer = await call(target, 'PUT', '/api/v1/config?dryRun=true', { body, headers: { 'content-type': contentType } });
  failOnInvalid(answer, file);
  expectOk(answer, `cannot check ${file}`);
  if (printedStructured(answer.json, output)) return;
  const diff = answer.json!.diff as string;
  out(diff === '' ? `no changes: ${file} is the running config (version ${String(answer.json!.currentVersion)})\n` : diff);
}

/** A 422 with field errors: each printed like `sluice validate` prints them, against the local file's name. */
function failOnInvalid(answer: AdminAnswer, file: string): void {
  if (answer.status !== 422 || !Array.isArray(answer.json?.errors)) return;
  const errors = answer.json.errors as Array<FieldError | string>;
  for (const e of errors) process.stderr.write(typeof e === 'string' ? `${e}\n` : `${file}:${e.line}:${e.column}${e.path === '' ? '' : ` ${e.path}`}: ${e.message}\n`);
  const code = (answer.json.error as { code?: string } | undefined)?.code;
  if (code === 'invalid_config') throw new CliError(`${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was changed`, 1);
  throw new CliError((answer.json.error as { message?: string } | undefined)?.message ?? 'rejected', 1);
}

export async function configDiff(from: number | undefined, to: number | undefined, opts: AdminOptions & { file?: string }): Promise<void> {
  const target = adminTarget(opts);
  if (opts.file !== undefined) {
    if (from !== undefined) throw new CliError('give either --file or versions, not both', 1);
    return dryRun(target, opts.file, await readLocal(opts.file), /\.json$/i.test(opts.file) ? 'application/json' : 'application/yaml', opts.output);
  }
  const params = new URLSearchParams();
  if (from !== undefined) params.set('from', String(from));
  if (to !== undefined) params.set('to', String(to));
  const answer = expectOk(await call(target, 'GET', `/api/v1/config/diff?${params}`), 'cannot diff');
  if (printedStructured(answer.json, opts.output)) return;
  out(answer.json!.diff as string);
}

export async function configHistory(opts: AdminOptions & { limit: number }): Promise<void> {
  const answer = expectOk(await call(adminTarget(opts), 'GET', `/api/v1/config/versions?limit=${opts.limit}`), 'cannot read the history');
  if (printedStructured(answer.json, opts.output)) return;
  const current = answer.json!.current as number;
  const rows = (answer.json!.versions as VersionMeta[]).map((v) => [
    `${v.version}${v.version === current ? '*' : ''}`,
    v.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    v.author,
    v.rollbackOf === undefined ? v.source : `rollback of ${v.rollbackOf}`,
    v.message,
  ]);
  out(table(['VERSION', 'CREATED', 'AUTHOR', 'SOURCE', 'MESSAGE'], rows));
}

export async function configRollback(version: number, opts: AdminOptions & { message?: string; author?: string }): Promise<void> {
  const target = adminTarget(opts);
  const current = await currentVersion(target);
  const answer = await call(target, 'POST', '/api/v1/config/rollback', {
    body: JSON.stringify({ version, ...(opts.message === undefined ? {} : { message: opts.message }) }),
    headers: { 'content-type': 'application/json', 'if-match': `"${current}"`, 'x-sluice-author': encodeHeader(opts.author ?? defaultAuthor()) },
  });
  failOnInvalid(answer, `version ${version}`);
  expectOk(answer, `cannot roll back to version ${version}`);
  if (printedStructured(answer.json, opts.output)) return;
  const meta = answer.json!.version as VersionMeta;
  out(answer.json!.changed ? `rolled back: version ${meta.version} has the content of version ${version}\n` : `unchanged: the running config (version ${meta.version}) already is version ${version}'s\n`);
}

interface RouteView {
  name: string;
  match: { host?: string | string[]; path?: string; pathPrefix?: string; pathRegex?: string; methods?: string[]; headers?: object; query?: object };
  upstream?: string;
  upstreams?: Array<{ name: string; weight: number }>;
  plugins?: Array<Record<string, unknown>>;
}

export async function routesList(names: string[], opts: AdminOptions): Promise<void> {
  const answer = expectOk(await call(adminTarget(opts), 'GET', '/api/v1/routes'), 'cannot list the routes');
  const routes = pick(answer.json!.routes as RouteView[], names, 'route');
  if (printedStructured(routes, opts.output)) return;
  const rows = routes.map((r) => [r.name, matchSummary(r.match), r.upstream ?? (r.upstreams ?? []).map((u) => `${u.name}:${u.weight}`).join(','), (r.plugins ?? []).flatMap((p) => Object.keys(p)).join(',') || '-']);
  out(table(['NAME', 'MATCH', 'UPSTREAM', 'PLUGINS'], rows));
}

function matchSummary(m: RouteView['match']): string {
  const parts: string[] = [];
  if (m.host !== undefined) parts.push(`host=${[m.host].flat().join(',')}`);
  if (m.path !== undefined) parts.push(m.path);
  if (m.pathPrefix !== undefined) parts.push(`${m.pathPrefix}*`);
  if (m.pathRegex !== undefined) parts.push(`~${m.pathRegex}`);
  if (m.methods !== undefined) parts.push(m.methods.join(','));
  if (m.headers !== undefined) parts.push(`headers:${Object.keys(m.headers).join(',')}`);
  if (m.query !== undefined) parts.push(`query:${Object.keys(m.query).join(',')}`);
  return parts.join(' ') || '*';
}

interface UpstreamView {
  name: string;
  healthyTargets: number;
  panic: boolean;
  targets: Array<{ target: string; state: string; inFlight: number; reason?: string }>;
}

export async function upstreamsList(names: string[], opts: AdminOptions): Promise<void> {
  const answer = expectOk(await call(adminTarget(opts), 'GET', '/api/v1/upstreams'), 'cannot list the upstreams');
  const upstreams = pick(answer.json!.upstreams as UpstreamView[], names, 'upstream');
  if (printedStructured(upstreams, opts.output)) return;
  const rows = upstreams.flatMap((u) =>
    u.targets.map((t) => [u.name, `${u.healthyTargets}/${u.targets.length}${u.panic ? ' panic' : ''}`, t.target, t.state, String(t.inFlight), t.reason ?? '']),
  );
  out(table(['UPSTREAM', 'HEALTHY', 'TARGET', 'STATE', 'IN-FLIGHT', 'REASON'], rows));
}

export async function status(opts: AdminOptions): Promise<void> {
  const target = adminTarget(opts);
  const ready = await call(target, 'GET', '/readyz');
  if (!ready.json) throw new CliError(`${target.admin}/readyz answered HTTP ${ready.status} without a readiness report; is this a Sluice admin API?`, 2);
  const config = await call(target, 'GET', '/api/v1/config');
  const detail = ready.json;
  const meta = config.status === 200 ? config.json : undefined;
  const report = { admin: target.admin, ...detail, ...(meta ? { config: { version: meta.version, author: meta.author, message: meta.message, createdAt: meta.createdAt } } : {}) };
  if (!printedStructured(report, opts.output)) {
    const listeners = (detail.listeners as Array<{ name: string; host: string; port: number }> | undefined) ?? [];
    const rows = [
      ['status', String(detail.status)],
      ['config', meta ? `version ${String(meta.version)} by ${String(meta.author)} at ${String(meta.createdAt)}: ${String(meta.message)}` : `version ${String(detail.configVersion)}`],
      ['listeners', listeners.map((l) => `${l.name} ${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`).join(', ') || '-'],
    ];
    if (detail.workers !== undefined) rows.push(['workers', `${String(detail.workersReady)}/${String(detail.workers)} ready`]);
    const reloads = detail.reloads as { ok: number; failed: number } | undefined;
    if (reloads) rows.push(['reloads', `${reloads.ok} ok, ${reloads.failed} failed`]);
    const store = detail.store as { backend: string; location: string; state: string; reason?: string; since: string } | undefined;
    if (store) rows.push(['store', store.state === 'ok' ? `${store.location} (ok)` : `${store.location}: ${store.state.toUpperCase()} since ${store.since}: ${store.reason ?? ''}`]);
    if (detail.instance !== undefined) rows.push(['instance', String(detail.instance)]);
    const rollout = detail.rollout as { id: string; canary: boolean; state?: string } | undefined;
    if (rollout) rows.push(['rollout', `${rollout.id} observing; ${rollout.canary ? `this instance is a canary (${rollout.state ?? 'applying'} the candidate)` : 'this instance is not a canary (runs the newest version)'}`]);
    out(table(['', ''], rows).split('\n').slice(1).join('\n'));
  }
  if (ready.status !== 200) process.exitCode = 2;
}

async function currentVersion(target: AdminTarget): Promise<number> {
  const answer = expectOk(await call(target, 'GET', '/api/v1/config'), 'cannot read the running config');
  return answer.json!.version as number;
}

function pick<T extends { name: string }>(items: T[], names: string[], noun: string): T[] {
  if (names.length === 0) return items;
  const unknown = names.filter((n) => !items.some((i) => i.name === n));
  if (unknown.length > 0) throw new CliError(`no ${noun} named ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${items.map((i) => i.name).join(', ') || 'none'}`, 1);
  return items.filter((i) => names.includes(i.name));
}

export async function readLocal(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
  }
}

/** Header values travel as latin1 bytes; the admin API decodes UTF-8 from them (respond.ts headerText). */
export function encodeHeader(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}
