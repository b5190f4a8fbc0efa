// A real redis-server for tests, started on a free loopback port (no persistence) and killed with SIGKILL, as a
// crash would. Tests fail with install instructions when redis-server is missing (.ci/run installs it).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const REDIS_BIN = process.env.REDIS_SERVER ?? 'redis-server';

export function assertRedisInstalled(): void {
  const probe = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    assert.fail(`${REDIS_BIN} is not installed: these tests need a real Redis (Debian/Ubuntu: apt-get install redis-server), or set REDIS_SERVER to its path`);
  }
}


/** Polls `check` every 20 ms until it is true, failing after `ms`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export class RedisServer {
  readonly port: number;
  #child: ChildProcess | undefined;

  constructor(port: number) {
    this.port = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(REDIS_BIN, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<never>((_resolve, reject) =>
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitFor('redis-server to accept connections', () => output.includes('Ready to accept connections')), exited]);
  }

  /** SIGKILL: the connection drops without a goodbye, as in a crash. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await gone;
    this.#child = undefined;
  }
}
