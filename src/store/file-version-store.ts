// The embedded config store: one JSON file per version under <dir>/versions/, each written atomically
// (atomic-write.ts), so a crash at any instant leaves every committed version whole and no half-written one
// under a version's name. A version is committed when its rename is durable. At open, leftovers of an
// interrupted write (temp files) are removed, and a file that fails its checksum is set aside, never served.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir, TEMP_PREFIX, writeFileAtomic } from './atomic-write.ts';
import { metaOf, parseVersion, versionRecord, VersionConflictError, type ConfigStore, type ConfigVersion, type NewVersion, type VersionMeta } from './version-store.ts';

const VERSION_FILE = /^(\d{10})\.json$/;
const DAMAGED_FILE = /^(\d{10})\.json\.damaged$/;

export interface FileStoreOptions {
  /** Versions kept; the oldest are removed past this (default 1000). */
  maxVersions?: number;
  /** Told about files that were set aside or cleaned up at open. */
  onWarning?: (message: string, detail: Record<string, unknown>) => void;
}

/** Another live process holds the store (two gateways on one config file would number versions twice). */
export class StoreLockedError extends Error {
  readonly code = 'store_locked';
}

export class FileVersionStore implements ConfigStore {
  readonly location: string;
  readonly #versionsDir: string;
  readonly #lockFile: string;
  readonly #max: number;
  /** Every kept version's metadata, oldest first. */
  #index: VersionMeta[] = [];
  /** The newest version with its text, kept so reads of the running config do not touch the disk. */
  #latest: ConfigVersion | undefined;
  /** The highest number ever used here, damaged files included: a number is never given twice. */
  #highest = 0;

  private constructor(dir: string, options: FileStoreOptions) {
    this.location = dir;
    this.#versionsDir = join(dir, 'versions');
    this.#lockFile = join(dir, 'lock');
    this.#max = options.maxVersions ?? 1000;
  }

  /**
   * Opens (creating if needed) the store in `dir` and takes its lock.
   *
   * @example
   * const store = await FileVersionStore.open('/etc/sluice/.sluice/sluice.yaml');
   * const v = await store.commit({ text, author: 'file', message: 'start', source: 'file' });
   */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileVersionStore> {
    const store = new FileVersionStore(dir, options);
    await mkdir(store.#versionsDir, { recursive: true, mode: 0o700 });
    await store.#lock();
    await store.#load(options.onWarning ?? (() => {}));
    return store;
  }

  async #lock(): Promise<void> {
    let holder: number | undefined;
    try {
      holder = Number(readFileSync(this.#lockFile, 'utf8').trim());
    } catch {
      // no lock file: free
    }
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new StoreLockedError(`the config store ${this.location} is in use by process ${holder}; stop it, or give this config its own store.dir`);
    }
    // A lock left by a process that died (SIGKILL, power loss) is taken over.
    await writeFileAtomic(this.#lockFile, `${process.pid}\n`);
  }

  async #load(warn: NonNullable<FileStoreOptions['onWarning']>): Promise<void> {
    const names = (await readdir(this.#versionsDir)).sort();
    const index: VersionMeta[] = [];
    let latest: ConfigVersion | undefined;
    for (const name of names) {
      const path = join(this.#versionsDir, name);
      if (name.startsWith(TEMP_PREFIX)) {
        // An interrupted write: it never became a version.
        await rm(path, { force: true });
        warn('removed the leftover of an interrupted write', { file: path });
        continue;
      }
      const damaged = DAMAGED_FILE.exec(name);
      if (damaged) this.#highest = Math.max(this.#highest, Number(damaged[1]));
      if (!VERSION_FILE.test(name)) continue;
      const number = Number(VERSION_FILE.exec(name)![1]);
      this.#highest = Math.max(this.#highest, number);
      const version = await readVersion(path);
      if (!version || version.version !== number) {
        await rename(path, `${path}.damaged`);
        warn('set aside a damaged version file (bad JSON or checksum); it is not served', { file: `${path}.damaged` });
        continue;
      }
      index.push(metaOf(version));
      latest = version;
    }
    this.#index = index;
    this.#latest = latest;
  }

  latest(): Promise<ConfigVersion | undefined> {
    return Promise.resolve(this.#latest);
  }

  list(): Promise<VersionMeta[]> {
    return Promise.resolve([...this.#index]);
  }

  async get(version: number): Promise<ConfigVersion | undefined> {
    if (this.#latest?.version === version) return this.#latest;
    if (!this.#index.some((m) => m.version === version)) return undefined;
    return readVersion(this.#path(version));
  }

  async commit(entry: NewVersion, expected?: number): Promise<ConfigVersion> {
    const current = this.#latest?.version ?? 0;
    if (expected !== undefined && expected !== current) throw new VersionConflictError(expected, current);
    const version = versionRecord(entry, Math.max(current, this.#highest) + 1);
    await writeFileAtomic(this.#path(version.version), JSON.stringify(version, null, 1) + '\n');
    this.#index.push(metaOf(version));
    this.#latest = version;
    this.#highest = version.version;
    await this.#prune();
    return version;
  }

  async #prune(): Promise<void> {
    const excess = this.#index.length - this.#max;
    if (excess <= 0) return;
    const gone = this.#index.splice(0, excess);
    for (const meta of gone) await rm(this.#path(meta.version), { force: true });
    await syncDir(this.#versionsDir);
  }

  async close(): Promise<void> {
    // Leave the lock file only if it is still ours.
    try {
      if (Number(readFileSync(this.#lockFile, 'utf8').trim()) === process.pid) await writeFile(this.#lockFile, '');
    } catch {
      // already gone
    }
  }

  #path(version: number): string {
    return join(this.#versionsDir, `${String(version).padStart(10, '0')}.json`);
  }
}

async function readVersion(path: string): Promise<ConfigVersion | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  return parseVersion(text);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
