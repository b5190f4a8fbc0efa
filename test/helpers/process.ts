// A real `sluice` process for integration tests: spawned through bin/sluice.js with this Node (process.execPath),
// its JSON log lines collected from stdout, readiness awaited from the "sluice started" line, every wait bounded.
// Every child is killed at the latest when the test process exits; tests kill theirs in after()/finally.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(REPO, 'bin', 'sluice.js');

export interface LogEntry {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export class SluiceProcess {
  readonly child: ChildProcess;
  /** Parsed JSON log lines from stdout, in order. */
  readonly logs: LogEntry[] = [];
  /** stdout lines that were not JSON. */
  readonly otherOutput: string[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  #exit: Exit | undefined;
  #waiters = new Set<() => void>();

  constructor(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; script?: string } = {}) {
    this.child = spawn(process.execPath, [options.script ?? BIN, ...args], {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'info', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(this.child);
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as LogEntry);
        } catch {
          this.otherOutput.push(line);
        }
      }
      this.#notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        children.delete(this.child);
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exitStatus(): Exit | undefined {
    return this.#exit;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves with the first log entry (at index >= from) that matches; rejects after timeoutMs or on exit. */
  waitForLog(match: (entry: LogEntry) => boolean, timeoutMs = 10_000, from = 0): Promise<LogEntry> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.logs.slice(from).find(match);
        if (found) return finish(() => resolve(found));
        if (this.#exit) return finish(() => reject(new Error(`sluice exited (${JSON.stringify(this.#exit)}) before the expected log line\n${this.describe()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no matching log line within ${timeoutMs} ms\n${this.describe()}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The message text of every log entry, for assertions on what was said and how often. */
  messages(): string[] {
    return this.logs.map((l) => l.msg);
  }

  /** Resolves with the exit status; rejects (and kills the process) after timeoutMs. */
  async waitForExit(timeoutMs = 15_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        reject(new Error(`sluice did not exit within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.#exit) this.child.kill(signal);
  }

  /** For after(): kill hard and wait (bounded) for the exit, so no child outlives its test. */
  async stop(): Promise<void> {
    if (this.#exit) return;
    this.child.kill('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
  }

  describe(): string {
    const tail = this.logs.slice(-15).map((l) => JSON.stringify(l));
    return `--- sluice stdout (last lines)\n${[...tail, ...this.otherOutput.slice(-5)].join('\n')}\n--- stderr\n${this.stderr.slice(-3000)}`;
  }
}

export interface RunningSluice {
  proc: SluiceProcess;
  adminPort: number;
  adminUrl: string;
  /** Port of a proxy listener by name (the first when no name is given). */
  port(name?: string): number;
  url(name?: string): string;
}

interface StartedLog {
  listeners?: { name: string; port: number }[];
  admin: { port: number };
}

/** `sluice start -c FILE --workers N`, resolved once the "sluice started" line names the bound ports. */
export async function startSluice(configPath: string, options: { workers?: number; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunningSluice> {
  const proc = new SluiceProcess(['start', '-c', configPath, '--workers', String(options.workers ?? 1)], { env: options.env });
  try {
    const started = (await proc.waitForLog((l) => l.msg === 'sluice started', options.timeoutMs ?? 20_000)) as unknown as StartedLog;
    return runningFrom(proc, started);
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

export function runningFrom(proc: SluiceProcess, started: StartedLog): RunningSluice {
  const listeners = started.listeners ?? [];
  const port = (name?: string) => {
    const l = name === undefined ? listeners[0] : listeners.find((x) => x.name === name);
    if (!l) throw new Error(`no listener ${name ?? ''} in ${JSON.stringify(listeners)}`);
    return l.port;
  };
  const adminPort = started.admin.port;
  return { proc, adminPort, adminUrl: `http://127.0.0.1:${adminPort}`, port, url: (name) => `http://127.0.0.1:${port(name)}` };
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs one `sluice …` command to completion (bounded) and returns its exit status and output. */
export async function runCli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const proc = new SluiceProcess(args, { cwd: options.cwd });
  const exit = await proc.waitForExit(options.timeoutMs ?? 15_000);
  const stdout = [...proc.logs.map((l) => JSON.stringify(l)), ...proc.otherOutput].join('\n');
  return { ...exit, stdout, stderr: proc.stderr };
}

/** A fresh temp directory, removed by the returned function. */
export function tempDir(prefix = 'sluice-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let tmpCounter = 0;

/** The way most tools save: write a temp file beside the target, then rename it over (one atomic step). */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}-${tmpCounter++}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** The way `echo > file` saves: truncate and write the same inode. */
export function writeInPlace(path: string, text: string): void {
  writeFileSync(path, text);
}

/** Polls fn until it returns a value other than undefined; rejects after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface AdminReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** One admin API call, JSON decoded. */
export async function admin(adminUrl: string, path: string, init: RequestInit = {}): Promise<AdminReply> {
  const res = await fetch(adminUrl + path, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
