// The config store's contract: a numbered, append-only history of applied configs. The embedded default keeps it
// in files (file-version-store.ts); the distributed store (etcd-version-store.ts) implements the same interface
// plus SharedConfigStore (follow and health), and both run the same test cases (store-cases.ts).
import { createHash } from 'node:crypto';

/** What made a version: a write through the admin API, a rollback, the config file (an edit, a start), or a promoted staged rollout. */
export type VersionSource = 'api' | 'rollback' | 'file' | 'rollout';

export interface VersionMeta {
  /** 1, 2, 3…: never reused, even after older versions are pruned. */
  version: number;
  /** ISO 8601. */
  createdAt: string;
  /** The admin token's name, the X-Sluice-Author header, or "file". */
  author: string;
  message: string;
  source: VersionSource;
  /** For a rollback: the version whose content this one repeats. */
  rollbackOf?: number;
  /** SHA-256 of `text` (hex): detects a damaged file, and lets callers compare versions cheaply. */
  sha256: string;
}

export interface ConfigVersion extends VersionMeta {
  /** The YAML exactly as applied (and written to the config file). */
  text: string;
}

export type NewVersion = Pick<ConfigVersion, 'text' | 'author' | 'message' | 'source'> & { rollbackOf?: number };

/** The newest version is not the one a compare-and-swap write expected. */
export class VersionConflictError extends Error {
  readonly code = 'version_conflict';
  readonly current: number;
  constructor(expected: number, current: number) {
    super(`expected version ${expected} to be the newest, but it is ${current}`);
    this.current = current;
  }
}

/** A staged rollout is observing (etcd): no other version may be committed until it is promoted or rolled back. */
export class RolloutInProgressError extends Error {
  readonly code = 'rollout_in_progress';
  readonly rollout: string;
  constructor(rollout: string) {
    super(`rollout ${rollout} is observing a candidate version; config writes wait until it ends: promote or abort it first (sluice rollout promote|abort, POST /api/v1/rollouts/current/promote|abort)`);
    this.rollout = rollout;
  }
}

/** The store cannot be reached (etcd down or partitioned): nothing was read or written. */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable';
}

/** Whether a shared store can be reached; `since` is when this state began (ISO 8601). */
export interface StoreHealth {
  state: 'ok' | 'degraded';
  /** Why it is degraded, e.g. "connect ECONNREFUSED 127.0.0.1:2379". */
  reason?: string;
  since: string;
}

export interface StoreFollower {
  /** Version `n` is the newest, committed by this instance or another (said again now and then: cheap to ignore). */
  latest(n: number): void;
  health(health: StoreHealth): void;
}

/**
 * A store that several instances share (etcd): it, not a local file, holds the config in service. Each instance
 * follows it and applies what another one committed.
 */
export interface SharedConfigStore extends ConfigStore {
  readonly shared: true;
  /** e.g. "etcd". */
  readonly backend: string;
  health(): StoreHealth;
  /** Tells the follower of every new newest version and every change of health, until the returned function is called. */
  follow(follower: StoreFollower): () => void;
}

export function isShared(store: ConfigStore): store is SharedConfigStore {
  return (store as Partial<SharedConfigStore>).shared === true;
}

export interface ConfigStore {
  /** Where the store lives, for logs and errors. */
  readonly location: string;
  /** The newest version, or undefined for an empty store. */
  latest(): Promise<ConfigVersion | undefined>;
  /** Every kept version, oldest first, without the text. */
  list(): Promise<VersionMeta[]>;
  get(version: number): Promise<ConfigVersion | undefined>;
  /**
   * Appends a version numbered one past the newest. With `expected`, only if the newest is still that version
   * (0: the store is empty); otherwise VersionConflictError. Resolves once the version is durable.
   */
  commit(entry: NewVersion, expected?: number): Promise<ConfigVersion>;
  close(): Promise<void>;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The record a store keeps for a new version: numbered, timed and checksummed (every store writes the same). */
export function versionRecord(entry: NewVersion, version: number): ConfigVersion {
  return {
    version,
    createdAt: new Date().toISOString(),
    author: entry.author,
    message: entry.message,
    source: entry.source,
    ...(entry.rollbackOf === undefined ? {} : { rollbackOf: entry.rollbackOf }),
    sha256: sha256(entry.text),
    text: entry.text,
  };
}

/** A stored record read back; undefined when it is not whole (bad JSON, missing fields, checksum mismatch). */
export function parseVersion(text: string): ConfigVersion | undefined {
  let parsed: ConfigVersion;
  try {
    parsed = JSON.parse(text) as ConfigVersion;
  } catch {
    return undefined;
  }
  if (typeof parsed.text !== 'string' || typeof parsed.version !== 'number' || parsed.sha256 !== sha256(parsed.text)) return undefined;
  return parsed;
}

export function metaOf(v: ConfigVersion): VersionMeta {
  const { text: _text, ...meta } = v;
  return meta;
}
