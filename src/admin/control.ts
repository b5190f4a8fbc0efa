// What the admin server may see and do, and nothing more: the runtime implements this, admin/ never reaches
// into the gateway itself (DESIGN.md: nothing below admin imports it; admin reads state through an interface).
import type { SluiceConfig } from '../config/schema.ts';
import type { OverloadReport } from '../proxy/gateway.ts';
import type { UpstreamReport } from '../upstream/registry.ts';

export type ReloadResult = { ok: true; version: number; changed: boolean } | { ok: false; errors: string[] };

export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

/** GET /api/v1/upstreams. */
export interface UpstreamsView {
  /** Each upstream, its health, circuits and limits; with workers, merged (see runtime/upstream-views.ts). */
  upstreams: UpstreamReport[];
  overload: OverloadReport;
  /**
   * With `--workers N > 1`: every worker's own view. Health checks, outlier detection, breakers and adaptive
   * limits run in each worker on the traffic it sees, so workers may disagree for a while.
   */
  workers?: Array<{ pid: number; upstreams: UpstreamReport[]; overload: OverloadReport } | { pid: number; error: string }>;
}

export interface AdminControl {
  readiness(): Readiness;
  upstreams(): Promise<UpstreamsView>;
  currentConfig(): { version: number; config: SluiceConfig; loadedAt: string } | undefined;
  reload(reason: string): Promise<ReloadResult>;
}
