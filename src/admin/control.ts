// What the admin server may see and do, and nothing more: the runtime implements this, admin/ never reaches
// into the gateway itself (DESIGN.md: nothing below admin imports it; admin reads state through an interface).
import type { ConfigError } from '../config/load.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { OverloadReport } from '../proxy/gateway.ts';
import type { AuditEntry } from '../store/audit-log.ts';
import type { ConfigVersion, VersionMeta } from '../store/version-store.ts';
import type { RolloutAdmin } from '../rollout/types.ts';
import type { UpstreamReport } from '../upstream/registry.ts';

export type ReloadResult =
  | { ok: true; version: number; changed: boolean }
  /** kind: what failed after validation passed: putting the config into service, or recording it. */
  | { ok: false; errors: string[]; kind?: 'apply' | 'store' };

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

/** The config in service: its version record, its YAML as stored and the validated config. */
export interface RunningConfig {
  version: number;
  meta: VersionMeta;
  text: string;
  config: SluiceConfig;
  loadedAt: string;
}

/** Who writes and why; recorded with the version. */
export interface WriteMeta {
  author: string;
  message: string;
}

export type WriteResult =
  | { ok: true; changed: boolean; version: VersionMeta }
  | { ok: false; code: 'version_conflict'; current: number }
  | { ok: false; code: 'invalid_config'; errors: ConfigError[] }
  | { ok: false; code: 'not_found' | 'apply_failed' | 'store_failed' | 'store_unavailable' | 'not_ready' | 'rollout_in_progress'; message: string };

export interface AdminControl {
  readiness(): Readiness;
  upstreams(): Promise<UpstreamsView>;
  currentConfig(): RunningConfig | undefined;
  reload(reason: string): Promise<ReloadResult>;
  /** Every kept version, oldest first. */
  versions(): Promise<VersionMeta[]>;
  version(n: number): Promise<ConfigVersion | undefined>;
  /**
   * Validates, applies, stores and writes the config file, one write at a time. With `expected`, only if that is
   * still the current version (optimistic concurrency). Text identical to the running config changes nothing.
   */
  write(text: string, meta: WriteMeta, expected: number | undefined): Promise<WriteResult>;
  /** A new version whose content is version `to`'s. */
  rollback(to: number, meta: WriteMeta, expected: number | undefined): Promise<WriteResult>;
  audit(entry: AuditEntry): Promise<void>;
  auditEntries(limit: number): Promise<AuditEntry[]>;
  /** Staged rollouts across the fleet; undefined without a shared store (etcd). */
  rollouts?(): RolloutAdmin | undefined;
}
