// A real Prometheus server (Debian package `prometheus`) for tests: scrapes the given targets every second from a
// temporary directory, on a free loopback port, and answers PromQL through its HTTP API. Fails with what to install
// when the binary is missing.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

export const PROMETHEUS_MISSING = 'the real-Prometheus tests need the `prometheus` and `promtool` binaries: apt-get install -y prometheus';

export function hasBinary(name: string): boolean {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0;
}


export interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  url: string;
  query(promql: string): Promise<VectorResult[]>;
  /** The single value of a query, or undefined when it has no or several series. */
  scalar(promql: string): Promise<number | undefined>;
  /** Waits (bounded) until a query has at least one series. */
  waitFor(promql: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` ("host:port", path /metrics) every second. */
export async function startPrometheus(targets: string[], metricsPath = '/metrics'): Promise<RunningPrometheus> {
  assert.ok(hasBinary('prometheus') && hasBinary('promtool'), PROMETHEUS_MISSING);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-prometheus-'));
  await writeFile(join(dir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: sluice',
    `    metrics_path: ${metricsPath}`,
    `    static_configs: [{ targets: ${JSON.stringify(targets)} }]`,
    '',
  ].join('\n'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--enable-feature=exemplar-storage',
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit').then(() => {
    throw new Error(`prometheus exited: ${stderr}`);
  });
  exited.catch(() => undefined);

  const query = async (promql: string): Promise<VectorResult[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: VectorResult[] } };
    assert.equal(body.status, 'success');
    return body.data.result;
  };
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exit = once(child, 'exit');
      process.kill(child.pid, 'SIGTERM');
      const killer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 10_000);
      await exit;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 45_000;
  const ready = async (): Promise<boolean> => {
    try {
      return (await fetch(`${url}/-/ready`)).ok;
    } catch {
      return false;
    }
  };
  try {
    while (!(await Promise.race([ready(), exited]))) {
      assert.ok(Date.now() < deadline, `Prometheus did not become ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    query,
    async scalar(promql) {
      const result = await query(promql);
      return result.length === 1 ? Number(result[0]!.value[1]) : undefined;
    },
    async waitFor(promql, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while ((await query(promql)).length === 0) {
        assert.ok(Date.now() < until, `Prometheus has no ${promql} after ${timeoutMs} ms: ${stderr}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop,
  };
}
