// The embedded config source: a YAML file on disk, loaded and validated on demand and watched for edits.
// Editors save by rename as often as by write (vim moves the old file aside, most tools write a temp file and
// rename it over), and Kubernetes swaps a `..data` symlink beside a ConfigMap's files, so the directory is
// watched, not the file: a watch on the file itself would follow the old inode and go deaf after the first save.
import { lstatSync, watch, type FSWatcher } from 'node:fs';
import { readdir, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { loadConfigFile, type LoadResult } from '../config/load.ts';
import { TEMP_PREFIX, writeFileAtomic } from './atomic-write.ts';

export interface WatchOptions {
  /** Quiet time after the last event before onChange runs: a save is several events (truncate, write, rename). */
  debounceMs?: number;
  /** The watch itself failed (directory removed, watcher limit): reloads then need SIGHUP or the admin API. */
  onError?: (err: Error) => void;
}

export class ConfigFile {
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  load(): Promise<LoadResult> {
    return loadConfigFile(this.path);
  }

  /**
   * Replaces the file's content atomically (a config written through the admin API), keeping its mode. A
   * symlinked file is written where the link points, so the link survives.
   */
  async write(text: string): Promise<void> {
    let target = this.path;
    let mode = 0o644;
    try {
      target = await realpath(this.path);
      mode = (await stat(target)).mode & 0o777;
    } catch {
      // a file that does not exist yet
    }
    await writeFileAtomic(target, text, mode);
  }

  /** Removes the temp files of a write() that a crash interrupted; returns their names. */
  async removeLeftovers(): Promise<string[]> {
    const prefix = `${TEMP_PREFIX}${basename(this.path)}-`;
    const dir = dirname(this.path);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
    for (const name of names) await rm(resolve(dir, name), { force: true });
    return names;
  }

  /**
   * Calls onChange once per burst of edits (debounced), until the returned function is called. Whether the
   * content really changed is the caller's question (ControlPlane compares it with the running config).
   */
  watch(onChange: () => void, options: WatchOptions = {}): () => void {
    const { debounceMs = 150, onError } = options;
    const name = basename(this.path);
    // A symlinked config (Kubernetes ConfigMap) changes when a link elsewhere in the directory is swapped, with
    // no event naming the file: then any event in the directory counts.
    const followAll = isSymlink(this.path);
    let timer: NodeJS.Timeout | undefined;
    const watcher: FSWatcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
      if (!followAll && file !== null && file !== name) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    // An FSWatcher without an 'error' listener would throw and end the process.
    watcher.on('error', (err) => onError?.(err));
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
