// The plugin docs and the example plugin, proven the way a newcomer meets them: the five-minute walkthrough of
// docs/plugins.md run as written (its files taken from the page, `sluice start` as a real process with its default
// workers, the demo service behind it, the outputs the page shows), the example package's own tests run as a
// separate project would run them, and the example loaded by path into a running Sluice, its metric on /metrics.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startDemoUpstream, portOf } from '../examples/demo-upstream.ts';
import { REPO, SluiceProcess, runningFrom, startSluice, tempDir, writeAtomic } from './helpers/process.ts';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

const DOC = readFileSync(join(REPO, 'docs', 'plugins.md'), 'utf8');

/** The fenced block right after `<!-- walkthrough: NAME -->` in docs/plugins.md. */
function walkthrough(name: string): string {
  const at = DOC.indexOf(`<!-- walkthrough: ${name} -->`);
  assert.ok(at >= 0, `docs/plugins.md has no walkthrough block "${name}"`);
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(DOC.slice(at));
  assert.ok(block, `no code block after the "${name}" marker`);
  return block[1]!;
}

/** A directory that looks like a Sluice checkout after `npm ci`, as far as module resolution goes. */
function project(): string {
  const tmp = tempDir('sluice-walkthrough-');
  cleanup.push(() => tmp.remove());
  symlinkSync(join(REPO, 'node_modules'), join(tmp.dir, 'node_modules'));
  return tmp.dir;
}

/** `curl -si URL | grep -i -e A -e B`: the status line, header lines and body lines that contain a pattern. */
function curlGrep(url: string, patterns: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        const head = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`];
        for (let i = 0; i < res.rawHeaders.length; i += 2) head.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        const lines = [...head, '', ...body.split('\n')];
        resolve(lines.filter((l) => patterns.some((p) => l.toLowerCase().includes(p))).join('\n') + '\n');
      });
    }).on('error', reject);
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return fetch(url, { signal: AbortSignal.timeout(10_000) }).then(async (res) => ({ status: res.status, body: await res.text() }));
}

describe('the five-minute walkthrough in docs/plugins.md', () => {
  test('works as written: the plugin answers, greets upstream, and a mistake is refused with its path', async () => {
    const demo = await startDemoUpstream('demo-1', 0);
    cleanup.push(() => new Promise<void>((resolve) => demo.close(() => resolve())), () => demo.closeAllConnections());
    const dir = project();
    mkdirSync(join(dir, 'plugins'));
    writeFileSync(join(dir, 'plugins', 'hello.ts'), walkthrough('plugins/hello.ts'));
    // The page's ports, moved to free ones: the listener and admin to any, the demo service to where it runs.
    const yaml = walkthrough('hello.yaml')
      .replace('127.0.0.1:8081', '127.0.0.1:0')
      .replace('127.0.0.1:9902', '127.0.0.1:0')
      .replace('http://127.0.0.1:3001', `http://127.0.0.1:${portOf(demo)}`);
    const config = join(dir, 'hello.yaml');
    writeFileSync(config, yaml);

    // `npx sluice start -c hello.yaml`: the default workers, as the page runs it.
    const proc = new SluiceProcess(['start', '-c', config], { cwd: dir });
    cleanup.push(() => proc.stop());
    const started = await proc.waitForLog((l) => l.msg === 'sluice started', 30_000);
    const sluice = runningFrom(proc, started as never);

    const hello = await get(`${sluice.url()}/hello?name=Ada`);
    assert.equal(hello.status, 200);
    assert.deepEqual(JSON.parse(hello.body), JSON.parse(walkthrough('output /hello?name=Ada')));
    assert.equal(await curlGrep(`${sluice.url()}/anything?name=Ada`, ['x-hello', 'x-greeting']), walkthrough('output /anything?name=Ada'));

    // Step 6: the mistake, saved over the file; the watch reloads, the config is refused, the old one serves.
    const from = proc.logs.length;
    writeAtomic(config, yaml.replace('greeting: Hi', 'greeting: 42'));
    const refused = await proc.waitForLog((l) => l.msg === 'config could not be applied; the previous config keeps serving', 20_000, from);
    assert.ok(JSON.stringify(refused.errors).includes(walkthrough('error').trim()), JSON.stringify(refused.errors));
    assert.deepEqual(JSON.parse((await get(`${sluice.url()}/hello?name=Ada`)).body), { message: 'Hi, Ada!' });
  });
});

describe('starting with a broken plugin', () => {
  test('stops with exit code 1 and the entry at fault, as any config mistake does', async () => {
    const dir = project();
    const config = join(dir, 'sluice.yaml');
    writeFileSync(config, [
      'listeners: [{ name: public, address: "127.0.0.1:0" }]',
      'upstreams: [{ name: demo, targets: [{ url: "http://127.0.0.1:9" }] }]',
      'routes: [{ name: r, upstream: demo, plugins: [{ path: ./plugins/missing.ts }] }]',
      'admin: { address: "127.0.0.1:0" }',
      '',
    ].join('\n'));
    const proc = new SluiceProcess(['start', '-c', config, '--workers', '1'], { cwd: dir });
    cleanup.push(() => proc.stop());
    const exit = await proc.waitForExit(20_000);
    assert.equal(exit.code, 1, proc.describe());
    assert.match(proc.stderr, /routes\[0\]\.plugins\[0\]: no such file .*plugins\/missing\.ts/);
  });
});

describe('examples/plugin-hello', () => {
  test('passes its own tests, run as a project of its own with sluice installed by path', async () => {
    const dir = project();
    const copy = join(dir, 'plugin-hello');
    cpSync(join(REPO, 'examples', 'plugin-hello'), copy, { recursive: true, filter: (src) => !src.includes('node_modules') });
    // What `npm install` in the example does: sluice by path (a link to this checkout), zod from the registry.
    mkdirSync(join(copy, 'node_modules'));
    symlinkSync(REPO, join(copy, 'node_modules', 'sluice'));
    symlinkSync(join(REPO, 'node_modules', 'zod'), join(copy, 'node_modules', 'zod'));
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      // `npm test` in the example (node --test): a run of its own, without the variable that says it is inside this one.
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const child = spawn(process.execPath, ['--test', '--test-reporter=tap'], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /# pass 3/);
  });

  test('loads by path into a running Sluice; its metric shows on /metrics', async () => {
    const demo = await startDemoUpstream('demo-1', 0);
    cleanup.push(() => new Promise<void>((resolve) => demo.close(() => resolve())), () => demo.closeAllConnections());
    const dir = project();
    const config = join(dir, 'sluice.yaml');
    writeFileSync(config, [
      'listeners: [{ name: public, address: "127.0.0.1:0" }]',
      `upstreams: [{ name: demo, targets: [{ url: "http://127.0.0.1:${portOf(demo)}" }] }]`,
      'consumers: [{ id: ada, keys: [{ key: ada-key-0123456789abcdef }] }]',
      'routes:',
      '  - name: greet',
      '    upstream: demo',
      '    plugins:',
      '      - key-auth: { optional: true }',
      `      - path: ${join(REPO, 'examples', 'plugin-hello', 'index.ts')}`,
      '        config: { greeting: Welcome }',
      'admin: { address: "127.0.0.1:0" }',
      '',
    ].join('\n'));
    const sluice = await startSluice(config, { workers: 1 });
    cleanup.push(() => sluice.proc.stop());
    const answered = await fetch(`${sluice.url()}/hello`, { headers: { 'x-api-key': 'ada-key-0123456789abcdef' } });
    assert.deepEqual(await answered.json(), { message: 'Welcome, ada!' });
    assert.equal(answered.headers.get('x-hello'), 'Welcome');
    const passed = await get(`${sluice.url()}/users`);
    assert.equal(passed.status, 200);
    const metrics = await get(`${sluice.adminUrl}/metrics`);
    assert.match(metrics.body, /sluice_plugin_hello_answered_total 1/);
  });
});
