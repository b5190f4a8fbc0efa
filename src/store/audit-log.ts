// The audit log: one JSON line per write attempt on the admin API (who, what, when, result, version), appended
// to a file beside the version store and fsynced, so the record of a change is as durable as the change.
import { open, readFile } from 'node:fs/promises';

export interface AuditEntry {
  /** ISO 8601. */
  time: string;
  /** The token's name, X-Sluice-Author, "file" or "anonymous" (a refused request without credentials). */
  actor: string;
  /** e.g. "config.put", "config.rollback", "config.reload". */
  action: string;
  /** "ok", "dry-run", "rejected" (invalid), "conflict", "unauthorized", "failed". */
  result: string;
  /** HTTP status answered (absent for a change that came from the config file). */
  status?: number;
  /** The version created or, when nothing was created, the current one. */
  version?: number;
  message?: string;
  /** For a rollback: the version whose content was restored. */
  target?: number;
  /** Why it failed, short. */
  errors?: string[];
  /** The client's address. */
  remote?: string;
}

/** Where audit entries go: a local file (AuditLog), or etcd for a fleet (etcd-audit-log.ts). */
export interface AuditTrail {
  /** Where it lives, for logs. */
  readonly path: string;
  /** Resolves once the entry is durable. */
  append(entry: AuditEntry): Promise<void>;
  /** The last `limit` entries, oldest first. */
  read(limit?: number): Promise<AuditEntry[]>;
}

export class AuditLog implements AuditTrail {
  readonly path: string;
  /** Appends run one at a time so lines stay whole and in order. */
  #tail: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens (creating) the log; a line torn by a crash mid-append is closed off so the next entry starts whole. */
  static async open(path: string): Promise<AuditLog> {
    const file = await open(path, 'a+', 0o600);
    try {
      const { size } = await file.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await file.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) await file.appendFile('\n');
      }
    } finally {
      await file.close();
    }
    return new AuditLog(path);
  }

  append(entry: AuditEntry): Promise<void> {
    const line = JSON.stringify(entry) + '\n';
    const run = this.#tail.then(async () => {
      const file = await open(this.path, 'a', 0o600);
      try {
        await file.appendFile(line);
        await file.sync();
      } finally {
        await file.close();
      }
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** The last `limit` entries, oldest first; a line cut short by a crash is skipped. */
  async read(limit = 100): Promise<AuditEntry[]> {
    await this.#tail;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        entries.push(JSON.parse(line) as AuditEntry);
      } catch {
        // The torn last line of a crash mid-append.
      }
    }
    return entries.slice(-limit);
  }
}
