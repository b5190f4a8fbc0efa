// GET /api/v1/upstreams with `--workers N`: each worker checks health, detects outliers, breaks circuits and
// limits concurrency on the traffic it sees, so there is no single truth to report. The primary asks every worker
// and shows their views side by side, plus a merged one that errs on the side of trouble: a target is only
// `healthy` when every worker says so, its state is the worst any worker reports, counters are summed.
import type { UpstreamsView } from '../admin/control.ts';
import type { OverloadReport } from '../proxy/gateway.ts';
import type { CircuitReport } from '../upstream/resilience.ts';
import type { TargetReport, UpstreamReport } from '../upstream/registry.ts';
import type { WorkerReport } from './cluster-messages.ts';

const TARGET_SEVERITY: Record<TargetReport['state'], number> = { healthy: 0, 'circuit-open': 1, ejected: 2, unhealthy: 3 };
const CIRCUIT_SEVERITY: Record<CircuitReport['state'], number> = { closed: 0, 'half-open': 1, open: 2 };

type WorkerView = WorkerReport | { pid: number; error: string };

export function mergeWorkerViews(views: WorkerView[]): UpstreamsView {
  const answered = views.filter((v): v is WorkerReport => 'upstreams' in v);
  const byName = new Map<string, Array<{ pid: number; report: UpstreamReport }>>();
  for (const view of answered) {
    for (const report of view.upstreams) {
      const list = byName.get(report.name) ?? [];
      list.push({ pid: view.pid, report });
      byName.set(report.name, list);
    }
  }
  return {
    upstreams: [...byName.values()].map(mergeUpstream),
    overload: mergeOverload(answered.map((v) => v.overload)),
    workers: views.map((v) => ('upstreams' in v ? { pid: v.pid, upstreams: v.upstreams, overload: v.overload } : v)),
  };
}

function mergeUpstream(views: Array<{ pid: number; report: UpstreamReport }>): UpstreamReport {
  const reports = views.map((v) => v.report);
  const merged: UpstreamReport = {
    name: reports[0]!.name,
    healthyTargets: Math.min(...reports.map((r) => r.healthyTargets)),
    panic: reports.some((r) => r.panic),
    targets: [],
  };
  const circuit = worstCircuit(reports.map((r) => r.circuit));
  if (circuit) merged.circuit = circuit;
  const limits = reports.map((r) => r.adaptiveConcurrency).filter((a) => a !== undefined);
  if (limits.length > 0) {
    const rtts = limits.map((a) => a.minRttMs).filter((m) => m !== undefined);
    merged.adaptiveConcurrency = {
      limit: sum(limits.map((a) => a.limit)),
      inFlight: sum(limits.map((a) => a.inFlight)),
      minRttMs: rtts.length > 0 ? Math.min(...rtts) : undefined,
      sampleRttMs: Math.max(0, ...limits.map((a) => a.sampleRttMs ?? 0)) || undefined,
      measuring: limits.some((a) => a.measuring),
      shed: sum(limits.map((a) => a.shed)),
    };
  }
  const byTarget = new Map<string, Array<{ pid: number; target: TargetReport }>>();
  for (const { pid, report } of views) {
    for (const target of report.targets) {
      const list = byTarget.get(target.target) ?? [];
      list.push({ pid, target });
      byTarget.set(target.target, list);
    }
  }
  merged.targets = [...byTarget.values()].map(mergeTarget);
  return merged;
}

function mergeTarget(views: Array<{ pid: number; target: TargetReport }>): TargetReport & { workers: unknown[] } {
  const worst = views.reduce((a, b) => (TARGET_SEVERITY[b.target.state] > TARGET_SEVERITY[a.target.state] ? b : a)).target;
  const merged: TargetReport & { workers: unknown[] } = {
    ...worst,
    healthy: views.every((v) => v.target.healthy),
    inFlight: sum(views.map((v) => v.target.inFlight)),
    workers: views.map(({ pid, target }) => ({ pid, state: target.state, ...(target.reason ? { reason: target.reason } : {}) })),
  };
  const circuit = worstCircuit(views.map((v) => v.target.circuit));
  if (circuit) merged.circuit = circuit;
  return merged;
}

function worstCircuit(circuits: Array<CircuitReport | undefined>): CircuitReport | undefined {
  let worst: CircuitReport | undefined;
  for (const c of circuits) if (c && (!worst || CIRCUIT_SEVERITY[c.state] > CIRCUIT_SEVERITY[worst.state])) worst = c;
  return worst;
}

function mergeOverload(reports: OverloadReport[]): OverloadReport {
  const shed: Record<string, number> = {};
  for (const r of reports) for (const [reason, n] of Object.entries(r.shed)) shed[reason] = (shed[reason] ?? 0) + n;
  return {
    inFlight: sum(reports.map((r) => r.inFlight)),
    shed,
    droppedConnections: sum(reports.map((r) => r.droppedConnections)),
    eventLoopDelayMs: Math.max(0, ...reports.map((r) => r.eventLoopDelayMs)),
    heapPercent: Math.max(0, ...reports.map((r) => r.heapPercent)),
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
