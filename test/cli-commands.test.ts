// The `sluice` command as users run it (bin/sluice.js under this Node): what it prints and DESIGN.md's exit
// codes — 0 ok, 1 invalid input (config, flags), 2 runtime failure (a port that cannot be bound).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, runCli, tempDir, writeAtomic } from './helpers/process.ts';

const temp = tempDir();
const good = join(temp.dir, 'good.yaml');
const bad = join(temp.dir, 'bad.yaml');
const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
/** A plain server without SO_REUSEPORT holds this port, so nobody can share it. */
let blocker: net.Server;
let busyPort: number;

function config(listener: string, adminAddress = '127.0.0.1:0'): string {
  return `listeners:
  - name: public
    address: ${listener}
upstreams:
  - name: app
    targets: [{ url: "http://127.0.0.1:9" }]
routes:
  - { name: one, match: { pathPrefix: /one }, upstream: app }
  - { name: two, match: { pathPrefix: /two }, upstream: app }
admin: { address: "${adminAddress}" }
`;
}

before(async () => {
  blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
  busyPort = (blocker.address() as net.AddressInfo).port;
  writeAtomic(good, config('127.0.0.1:0'));
  writeAtomic(
    bad,
    `listeners:
  - name: public
    address: 127.0.0.1:0
upstreams:
  - name: users
    loadBalancer: round-robbin
    targets:
      - url: http://127.0.0.1:3001
routes:
  - name: users-api
    match: { patPrefix: /api/users }
    upstream: userz
    timeout: 5 sec
`,
  );
});

after(() => {
  blocker?.close();
  temp.remove();
});

describe('sluice validate', { concurrency: 2 }, () => {
  test('a good file: exit 0 and a one-line summary', async () => {
    const r = await runCli(['validate', '-c', good]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${good}: ok (1 listener, 1 upstream, 2 routes)`);
  });

  test('the quickstart config is valid', async () => {
    const r = await runCli(['validate', '--config', 'examples/quickstart.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /examples\/quickstart\.yaml: ok/);
  });

  test('a bad file: exit 1 and every error as file:line:col path: message', async () => {
    const r = await runCli(['validate', '-c', bad]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.deepEqual(lines, [
      `${bad}:6:19 upstreams[0].loadBalancer: must be one of round-robin, weighted, least-request, consistent-hash (did you mean "round-robin"?)`,
      `${bad}:11:14 routes[0].match: unknown field "patPrefix" (did you mean "pathPrefix"?)`,
      `${bad}:12:15 routes[0].upstream: unknown upstream "userz" (did you mean "users"?)`,
      `${bad}:13:14 routes[0].timeout: invalid duration "5 sec": use a number with a unit, e.g. 250ms, 5s, 1m30s`,
      '4 errors; nothing was changed',
    ]);
  });

  test('a missing file: exit 1 and what to do', async () => {
    const missing = join(temp.dir, 'nope.yaml');
    const r = await runCli(['validate', '-c', missing]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^${missing}: cannot read: no such file; create it or pass -c FILE\n`));
  });

  test('without -c it reads ./sluice.yaml', async () => {
    const r = await runCli(['validate'], { cwd: temp.dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sluice\.yaml: cannot read: no such file/);
  });
});

describe('sluice version, help and flags', { concurrency: 2 }, () => {
  test('`sluice version` and `sluice --version` print the version, exit 0', async () => {
    const r = await runCli(['version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `sluice ${version} (node ${process.version})`);
    const flag = await runCli(['--version']);
    assert.equal(flag.code, 0);
    assert.equal(flag.stdout, version);
  });

  for (const args of [['--help'], ['start', '--help'], ['validate', '--help'], ['version', '--help'], ['help', 'start']]) {
    test(`\`sluice ${args.join(' ')}\` prints usage, exit 0`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: sluice/);
    });
  }

  test('an unknown flag: exit 1 and the flag named', async () => {
    const r = await runCli(['start', '--bogus']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown option '--bogus'/);
  });

  test('an unknown command: exit 1', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  for (const workers of ['0', '-1', 'two', '1.5']) {
    test(`--workers ${workers}: exit 1 with what is allowed`, async () => {
      const r = await runCli(['start', '-c', good, `--workers=${workers}`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--workers <n>.*is invalid\. use a whole number from 1 to 1024/);
    });
  }
});

describe('sluice start failures', { concurrency: 2 }, () => {
  for (const workers of ['1', '2']) {
    test(`--workers ${workers}: a proxy port already in use is exit 2, naming the address`, async () => {
      const path = join(temp.dir, `busy-${workers}.yaml`);
      writeAtomic(path, config(`127.0.0.1:${busyPort}`));
      const r = await runCli(['start', '-c', path, '--workers', workers], { timeoutMs: 20_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot bind listener "public" to 127\\.0\\.0\\.1:${busyPort}: address already in use`));
    });

    test(`--workers ${workers}: an invalid config is exit 1 with its errors`, async () => {
      const r = await runCli(['start', '-c', bad, '--workers', workers]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^${bad}:6:19 upstreams\\[0\\]\\.loadBalancer: `));
      assert.equal(r.stderr.trimEnd().split('\n').length, 4);
    });
  }

  test('the admin port already in use is exit 2, naming the address', async () => {
    const path = join(temp.dir, 'busy-admin.yaml');
    writeAtomic(path, config('127.0.0.1:0', `127.0.0.1:${busyPort}`));
    const r = await runCli(['start', '-c', path, '--workers', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`cannot bind the admin listener to 127\\.0\\.0\\.1:${busyPort}: address already in use`));
  });

  test('a missing config file is exit 1', async () => {
    const r = await runCli(['start', '-c', join(temp.dir, 'absent.yaml'), '--workers', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read: no such file; create it or pass -c FILE/);
  });
});
