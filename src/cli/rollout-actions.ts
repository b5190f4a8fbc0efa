// What the rollout and instances commands do (rollout-commands.ts defines them): one or two admin API requests
// each, printed as a table for people or as JSON/YAML for scripts.
import { adminTarget, call, CliError, defaultAuthor, expectOk } from './admin-client.ts';
import { encodeHeader, readLocal } from './control-actions.ts';
import { printedStructured, table, type Output } from './output.ts';
import type { RolloutStartOptions } from './rollout-commands.ts';

const out = (text: string) => process.stdout.write(text);

interface Figures {
  requests: number;
  errors: number;
  errorRate: number;
  p99?: number;
}

interface RolloutView {
  id: string;
  author: string;
  message: string;
  baseVersion: number;
  canaries: string[];
  window: number;
  createdAt: string;
  state: string;
  thresholds: { maxErrorRate: number; maxP99: number; minRequests: number };
  decision?: { action: string; reason: string; by: string; at: string; version?: number };
}

export async function rolloutStart(opts: RolloutStartOptions): Promise<void> {
  if ((opts.file === undefined) === (opts.version === undefined)) throw new CliError('give the candidate with --file FILE or --version N (one of them)', 1);
  const labels = Object.fromEntries((opts.labels ?? []).map((l) => l.split('=') as [string, string]));
  const body = {
    ...(opts.file === undefined ? { version: opts.version } : { text: await readLocal(opts.file) }),
    ...(opts.message === undefined ? {} : { message: opts.message }),
    selector: { ...(opts.labels === undefined ? {} : { labels }), ...(opts.percent === undefined ? {} : { percent: opts.percent }) },
    window: opts.window,
    thresholds: { maxErrorRate: opts.maxErrorRate, maxP99: opts.maxP99, minRequests: opts.minRequests },
  };
  const answer = expectOk(
    await call(adminTarget(opts), 'POST', '/api/v1/rollouts', {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', 'x-sluice-author': encodeHeader(opts.author ?? defaultAuthor()) },
    }),
    'cannot start the rollout',
  );
  if (printedStructured(answer.json, opts.output)) return;
  const r = answer.json!.rollout as RolloutView;
  out(`rollout ${r.id} started: canar${r.canaries.length === 1 ? 'y' : 'ies'} ${r.canaries.join(', ')} run the candidate for ${r.window / 1000} s (base version ${r.baseVersion}); follow it with \`sluice rollout status\`\n`);
}

export async function rolloutStatus(opts: { admin?: string; output?: Output }): Promise<void> {
  const answer = expectOk(await call(adminTarget(opts), 'GET', '/api/v1/rollouts/current'), 'cannot read the rollout');
  if (printedStructured(answer.json, opts.output)) return;
  const { rollout: r, canaries, verdict, figures, baseline } = answer.json as {
    rollout: RolloutView;
    canaries: Array<{ id: string; live: boolean; state?: string; error?: string } & Partial<Figures>>;
    verdict: { action: string; reason: string; timeLeft?: number };
    figures?: Figures;
    baseline?: Figures;
  };
  const t = r.thresholds;
  const rows = [
    ['rollout', `${r.id} by ${r.author}: ${r.message}`],
    ['state', r.state.toUpperCase()],
    ['base', `version ${r.baseVersion}`],
    ['thresholds', `error rate ≤ ${pct(t.maxErrorRate)}, p99 ≤ ${t.maxP99} ms, at least ${t.minRequests} requests in ${r.window / 1000} s`],
  ];
  if (figures) rows.push(['canaries', fig(figures)]);
  if (baseline) rows.push(['others', fig(baseline)]);
  if (verdict.timeLeft !== undefined) rows.push(['time left', `${Math.ceil(verdict.timeLeft / 1000)} s`]);
  rows.push([r.state === 'observing' ? 'now' : 'decision', `${verdict.action}: ${verdict.reason}${r.decision ? ` (${r.decision.by} at ${r.decision.at}${r.decision.version === undefined ? '' : `, version ${r.decision.version}`})` : ''}`]);
  out(table(['', ''], rows).split('\n').slice(1).join('\n'));
  out('\n');
  out(table(['CANARY', 'LIVE', 'STATE', 'REQUESTS', '5XX', 'ERROR RATE', 'P99'], canaries.map((c) => [
    c.id,
    c.live ? 'yes' : 'no',
    c.state === 'refused' ? `refused: ${c.error ?? ''}` : (c.state ?? '-'),
    String(c.requests ?? '-'),
    String(c.errors ?? '-'),
    c.errorRate === undefined ? '-' : pct(c.errorRate),
    c.p99 === undefined ? '-' : `${Math.round(c.p99)} ms`,
  ])));
}

export async function rolloutList(opts: { admin?: string; output?: Output; limit: number }): Promise<void> {
  const answer = expectOk(await call(adminTarget(opts), 'GET', `/api/v1/rollouts?limit=${opts.limit}`), 'cannot list the rollouts');
  if (printedStructured(answer.json, opts.output)) return;
  const rows = (answer.json!.rollouts as RolloutView[]).map((r) => [r.id, r.state, r.canaries.join(','), r.decision?.version === undefined ? `base ${r.baseVersion}` : `-> ${r.decision.version}`, r.decision?.reason ?? '']);
  out(table(['ROLLOUT', 'STATE', 'CANARIES', 'VERSION', 'REASON'], rows));
}

export async function rolloutEnd(action: 'promote' | 'abort', opts: { admin?: string; output?: Output; message?: string; author?: string }): Promise<void> {
  const query = opts.message === undefined ? '' : `?message=${encodeURIComponent(opts.message)}`;
  const answer = expectOk(
    await call(adminTarget(opts), 'POST', `/api/v1/rollouts/current/${action}${query}`, { headers: { 'x-sluice-author': encodeHeader(opts.author ?? defaultAuthor()) }, timeoutMs: 20_000 }),
    `cannot ${action} the rollout`,
  );
  if (printedStructured(answer.json, opts.output)) return;
  const r = answer.json!.rollout as RolloutView;
  out(action === 'promote' ? `rollout ${r.id} promoted as version ${String(r.decision?.version)}\n` : `rollout ${r.id} rolled back: its canaries return to version ${r.baseVersion}\n`);
}

export async function instancesList(opts: { admin?: string; output?: Output }): Promise<void> {
  const answer = expectOk(await call(adminTarget(opts), 'GET', '/api/v1/instances'), 'cannot list the instances');
  if (printedStructured(answer.json, opts.output)) return;
  const rows = (answer.json!.instances as Array<{ id: string; labels: Record<string, string>; admin: string; configVersion: number; rollout?: { id: string; state: string } }>).map((i) => [
    i.id,
    Object.entries(i.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    i.admin,
    String(i.configVersion),
    i.rollout ? `${i.rollout.state} ${i.rollout.id}` : '-',
  ]);
  out(table(['ID', 'LABELS', 'ADMIN', 'VERSION', 'ROLLOUT'], rows));
}

function pct(rate: number): string {
  return `${(rate * 100).toFixed(2).replace(/\.?0+$/, '')}%`;
}

function fig(f: Figures): string {
  return `${f.requests} requests, ${f.errors} 5xx (${pct(f.errorRate)}), p99 ${f.p99 === undefined ? '-' : `${Math.round(f.p99)} ms`}`;
}
