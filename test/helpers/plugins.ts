// For the plugin tests: plugin modules written to a temp directory (each write a new file, so a reload sees a new
// module), a logger whose lines can be read back, and the JSON lines of what a test's plugins record globally.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface PluginFiles {
  readonly dir: string;
  /** Writes `source` as `name` in the directory; returns its absolute path. */
  write(name: string, source: string): string;
  remove(): void;
}

export function pluginFiles(prefix = 'sluice-plugins-'): PluginFiles {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    write(name, source) {
      const file = join(dir, name);
      writeFileSync(file, source);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CapturedLog {
  readonly log: Logger;
  /** Every line written so far, parsed. */
  entries(): Array<Record<string, unknown>>;
  /** Every line written so far, as written. */
  text(): string;
}

/** A pino logger at `level` (debug by default) that keeps its output in memory. */
export function captureLog(level = 'debug'): CapturedLog {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    log: pino({ level }, sink),
    entries: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => text,
  };
}

/** A place plugins in test modules report to (globalThis, since they are loaded as separate modules). */
export function pluginEvents(key: string): string[] {
  const store = globalThis as unknown as Record<string, string[]>;
  store[key] ??= [];
  return store[key];
}
