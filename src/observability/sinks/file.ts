// A file with size and time rotation, written by hand rather than with pino-roll: the active file keeps its name
// (access.log), which is what tail -F and log shippers expect, while pino-roll writes to a new numbered name on
// every roll; and this sink plugs into the shared bounded buffer, drop counter and retry policy, where pino-roll
// brings its own SonicBoom buffer with neither. Rotated files: access-20250101T000000.log (a -N suffix if taken).
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { AccessLogSinkSettings, SinkBufferSettings } from '../../config/observability-schema.ts';
import { BatchingSink, type Batch, type SinkHooks } from './batching-sink.ts';

export type FileSinkSettings = Extract<AccessLogSinkSettings, { file: unknown }>['file'];

const STAMP_RE = /^\d{8}T\d{6}(?:-\d+)?$/;

function stamp(time: number): string {
  return new Date(time).toISOString().replace(/[-:]/g, '').slice(0, 15); // 20250101T000000
}

export class FileSink extends BatchingSink {
  readonly #path: string;
  readonly #settings: FileSinkSettings;
  readonly #now: () => number;
  #handle: FileHandle | undefined;
  #size = 0;
  #rotateAt = Infinity;
  /** Only a regular file is rotated: a path like /dev/stdout or a named pipe is written, never renamed. */
  #regular = true;

  /** `now` is for tests that cross a rotation boundary without waiting for it. */
  constructor(name: string, settings: FileSinkSettings, buffer: SinkBufferSettings, hooks: SinkHooks, now: () => number = Date.now) {
    super(name, buffer, hooks, 'bytes');
    this.#path = settings.path;
    this.#settings = settings;
    this.#now = now;
  }

  /** The next multiple of rotateEvery since the epoch (UTC): a 24h rotation happens at midnight UTC. */
  #periodEnd(time: number): number {
    const every = this.#settings.rotateEvery;
    return every > 0 ? (Math.floor(time / every) + 1) * every : Infinity;
  }

  async #open(): Promise<FileHandle> {
    await mkdir(dirname(this.#path), { recursive: true });
    const handle = await open(this.#path, 'a');
    const info = await handle.stat();
    this.#regular = info.isFile();
    this.#size = info.size;
    // A file left from an earlier period (Sluice was stopped over midnight) is rotated before the first write.
    this.#rotateAt = this.#periodEnd(info.size > 0 ? info.mtimeMs : this.#now());
    this.#handle = handle;
    return handle;
  }

  protected async send({ bytes: chunks }: Batch): Promise<void> {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    try {
      let handle = this.#handle ?? (await this.#open());
      const { maxSize } = this.#settings;
      if (this.#regular && this.#size > 0 && ((maxSize > 0 && this.#size + bytes > maxSize) || this.#now() >= this.#rotateAt)) {
        handle = await this.#rotate(handle);
      }
      await handle.writev(chunks);
      this.#size += bytes;
    } catch (err) {
      // Reopen on the next try: the handle may be the thing that broke (file removed, disk remounted).
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close().catch(() => undefined);
      throw err;
    }
  }

  async #rotate(handle: FileHandle): Promise<FileHandle> {
    this.#handle = undefined;
    await handle.close();
    const ext = extname(this.#path);
    const base = this.#path.slice(0, this.#path.length - ext.length);
    const name = stamp(this.#now());
    let target = `${base}-${name}${ext}`;
    for (let n = 1; await exists(target); n++) target = `${base}-${name}-${n}${ext}`;
    await rename(this.#path, target);
    const opened = await this.#open();
    this.#rotateAt = this.#periodEnd(this.#now());
    await this.#prune(base, ext);
    return opened;
  }

  /** Keeps the newest maxFiles rotated files (their names sort by time). */
  async #prune(base: string, ext: string): Promise<void> {
    const keep = this.#settings.maxFiles;
    if (keep === 0) return;
    const prefix = `${basename(base)}-`;
    const rotated = (await readdir(dirname(this.#path)))
      .filter((f) => f.startsWith(prefix) && f.endsWith(ext) && STAMP_RE.test(f.slice(prefix.length, f.length - ext.length)))
      .sort(compareRotated);
    for (const file of rotated.slice(0, Math.max(0, rotated.length - keep))) {
      await unlink(join(dirname(this.#path), file)).catch(() => undefined);
    }
  }

  protected override async release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}

/** Same-second rotations get -1, -2…: order those numerically after the plain name. */
function compareRotated(a: string, b: string): number {
  const [sa, na] = splitSuffix(a);
  const [sb, nb] = splitSuffix(b);
  return sa < sb ? -1 : sa > sb ? 1 : na - nb;
}

function splitSuffix(file: string): [string, number] {
  const m = /^(.*T\d{6})(?:-(\d+))?(\.[^.]*)?$/.exec(file);
  return m ? [m[1]!, m[2] === undefined ? 0 : Number(m[2])] : [file, 0];
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
