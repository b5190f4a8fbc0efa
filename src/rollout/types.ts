// The records a staged rollout keeps in etcd and passes between its parts (docs/distributed.md, "Staged rollout").
// Plain JSON data: every instance reads and writes them, so they carry no behaviour.

/** Which instances get the candidate: all of `labels` must match; then `percent` of those (at least one). */
export interface RolloutSelector {
  labels?: Record<string, string>;
  /** 1–100. */
  percent?: number;
}

export interface RolloutThresholds {
  /** Share of requests answered 5xx, 0–1. */
  maxErrorRate: number;
  /** ms. */
  maxP99: number;
  /** Fewer requests than this over the window: not enough traffic to judge (rolled back). */
  minRequests: number;
}

/** What a decision was based on: the canaries' requests since they applied the candidate. */
export interface WindowStats {
  /** ISO 8601: when the instance applied what it runs now (the counts start there). */
  since: string;
  requests: number;
  /** Responses with a 5xx status. */
  errors: number;
  /** Upper bounds of the request-duration buckets, seconds, ascending (+Inf implied). */
  bounds: number[];
  /** Cumulative counts per bound, then the +Inf bucket (bounds.length + 1 numbers). */
  cumulative: number[];
}

export interface RolloutDecision {
  action: 'promote' | 'rollback';
  /** Why, with the figures, e.g. "error rate 40.0% (40 of 100 requests 5xx) > maxErrorRate 1%". */
  reason: string;
  /** "rollout-controller@<instance id>", or the author of a manual promote/abort. */
  by: string;
  at: string;
  /** The version the promotion created. */
  version?: number;
  errorRate?: number;
  /** ms. */
  p99?: number;
  requests?: number;
}

export type RolloutState = 'observing' | 'promoted' | 'rolled-back';

export interface Rollout {
  id: string;
  text: string;
  sha256: string;
  author: string;
  message: string;
  /** The newest version when the rollout started: what every other instance runs, and what canaries return to. */
  baseVersion: number;
  /** `version: N` rollouts: the version whose text this is. */
  fromVersion?: number;
  canaries: string[];
  selector: RolloutSelector;
  thresholds: RolloutThresholds;
  /** ms. */
  window: number;
  createdAt: string;
  state: RolloutState;
  decision?: RolloutDecision;
}

/** An instance's part in the rollout it follows. */
export interface InstanceRollout {
  id: string;
  state: 'applied' | 'refused';
  error?: string;
  /** ISO 8601. */
  at: string;
}

/** `<prefix>instances/<id>`: one live instance, under its lease. */
export interface InstanceRecord {
  id: string;
  labels: Record<string, string>;
  /** Its admin API address, host:port. */
  admin: string;
  pid: number;
  startedAt: string;
  /** The numbered version it runs (a canary: the rollout's base version, with the candidate applied). */
  configVersion: number;
  rollout?: InstanceRollout;
  /** Published while a rollout is observing. */
  stats?: WindowStats;
  updatedAt: string;
}

/** POST /api/v1/rollouts, validated. */
export interface RolloutRequest {
  text: string;
  message: string;
  fromVersion?: number;
  selector: RolloutSelector;
  thresholds: RolloutThresholds;
  /** ms. */
  window: number;
}

export type RolloutResult =
  | { ok: true; rollout: Rollout }
  | { ok: false; code: 'bad_request' | 'not_found' | 'rollout_in_progress' | 'version_conflict' | 'store_failed'; message: string };

/** A canary as `sluice rollout status` shows it. */
export interface CanaryView {
  id: string;
  live: boolean;
  state?: InstanceRollout['state'];
  error?: string;
  requests?: number;
  errorRate?: number;
  /** ms. */
  p99?: number;
}

/** GET /api/v1/rollouts/current: the rollout observing now (or the newest finished), and how it stands. */
export interface RolloutStatus {
  rollout: Omit<Rollout, 'text'>;
  canaries: CanaryView[];
  /** Observing: what the controller would decide now, and why; finished: the decision. */
  verdict: { action: 'wait' | 'promote' | 'rollback'; reason: string; timeLeft?: number };
  /** The canaries' figures together. */
  figures?: { requests: number; errors: number; errorRate: number; p99?: number };
  /** Instances that are not canaries, for comparison. */
  baseline?: { requests: number; errors: number; errorRate: number; p99?: number };
}

/** What the admin API may do with rollouts (implemented by rollout-service.ts). */
export interface RolloutAdmin {
  instances(): Promise<InstanceRecord[]>;
  start(request: RolloutRequest, author: string): Promise<RolloutResult>;
  status(): Promise<RolloutStatus | undefined>;
  /** Finished rollouts, newest first. */
  list(limit: number): Promise<Rollout[]>;
  /** Ends the observing rollout by hand: promote its candidate now, or abort (canaries return to the newest version). */
  end(action: 'promote' | 'abort', author: string, message: string | undefined): Promise<RolloutResult>;
}

/** What the control plane needs to follow rollouts (implemented by fleet-member.ts). */
export interface RolloutPeer {
  /** This instance's id among `<prefix>instances/`. */
  readonly instanceId: string;
  /** The rollout observing now, read from etcd (throws when etcd cannot be reached). */
  observing(): Promise<Rollout | undefined>;
  /** This instance runs `version` now (with a rollout's candidate, or it refused one); figures count from here. */
  applied(version: number, part: InstanceRollout | undefined): void;
}
