// The embedded config source: a YAML file on disk, loaded and validated on demand and watched for edits.
// Editors save by rename as often as by write, so the directory is watched and events filtered by name.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { loadConfigFile, type LoadResult } from '../config/load.ts';

export class ConfigFile {
  readonly path: string;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(path: string) {
    this.path = resolve(path);
  }

  load(): Promise<LoadResult> {
    return loadConfigFile(this.path);
  }

  /** Calls onChange once per burst of edits (debounced), until the returned function is called. */
  watch(onChange: () => void, debounceMs = 150): () => void {
    const name = basename(this.path);
    this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(onChange, debounceMs);
    });
    return () => {
      clearTimeout(this.#timer);
      this.#watcher?.close();
    };
  }
}
