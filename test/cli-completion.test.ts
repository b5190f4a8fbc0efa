// Shell completion exercised in a real bash: the script from `sluice completion bash` is sourced, COMP_WORDS and
// COMP_CWORD are set as bash sets them on TAB, the completion function is called and COMPREPLY printed. Commands
// and options come from the CLI's own definitions; route and upstream names and version numbers come from a
// running Sluice; with the admin API down, completion offers nothing, quickly and silently.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { admin, BIN, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';

const temp = tempDir();
let s: RunningSluice;
let hasBash = true;
try {
  execFileSync('bash', ['-c', 'true']);
} catch {
  hasBash = false;
}

before(async () => {
  // `sluice` on PATH, as an installed command would be.
  const bin = join(temp.dir, 'bin');
  execFileSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'sluice'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
  chmodSync(join(bin, 'sluice'), 0o755);
  const path = join(temp.dir, 'sluice.yaml');
  writeAtomic(
    path,
    `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - { name: users, targets: [{ url: "http://127.0.0.1:9" }] }
  - { name: orders, targets: [{ url: "http://127.0.0.1:9" }] }
routes:
  - { name: users-api, match: { pathPrefix: /users }, upstream: users }
  - { name: users-admin, match: { pathPrefix: /admin/users }, upstream: users }
  - { name: orders-api, match: { pathPrefix: /orders }, upstream: orders }
admin: { address: "127.0.0.1:0" }
`,
  );
  s = await startSluice(path);
  // Two more versions, so there are three to complete.
  for (const v of [1, 2]) {
    const text = await (await fetch(`${s.adminUrl}/api/v1/config?format=yaml`)).text();
    const r = await admin(s.adminUrl, '/api/v1/config', { method: 'PUT', body: `${text}# edit ${v}\n`, headers: { 'if-match': `"${v}"` } });
    assert.equal(r.status, 200);
  }
});

after(async () => {
  await s?.proc.stop();
  temp.remove();
});

/** Sources the completion in a fresh bash, "presses TAB" after `line`, and returns COMPREPLY. */
function tab(line: string, adminUrl = s.adminUrl): Promise<{ replies: string[]; ms: number }> {
  const words = line.split(' ');
  const script = `
set -e
source <(sluice completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
COMP_LINE='${line}'
COMP_POINT=${line.length}
_sluice
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', script], { cwd: temp.dir, env: { ...process.env, PATH: `${join(temp.dir, 'bin')}:${process.env.PATH}`, SLUICE_ADMIN_URL: adminUrl, SLUICE_ADMIN_TOKEN: '' }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`bash failed: ${stderr}`));
      resolve({ replies: stdout.split('\n').filter((l) => l !== ''), ms: Date.now() - started });
    });
  });
}

test('commands and subcommands complete from the CLI definition', { skip: !hasBash && 'no bash' }, async () => {
  assert.deepEqual((await tab('sluice ')).replies, ['start', 'validate', 'version', 'config', 'routes', 'upstreams', 'status', 'rollout', 'instances', 'register', 'completion']);
  assert.deepEqual((await tab('sluice co')).replies, ['config', 'completion']);
  assert.deepEqual((await tab('sluice config ')).replies, ['get', 'apply', 'diff', 'history', 'rollback']);
  assert.deepEqual((await tab('sluice completion ')).replies, ['bash', 'zsh', 'fish']);
  assert.deepEqual((await tab('sluice config history -o ')).replies, ['table', 'json', 'yaml']);
  assert.ok((await tab('sluice config apply --')).replies.includes('--dry-run'));
});

test('version numbers, route and upstream names come from the running gateway', { skip: !hasBash && 'no bash' }, async () => {
  assert.deepEqual((await tab('sluice config rollback ')).replies, ['3', '2', '1']);
  assert.deepEqual((await tab('sluice config get ')).replies, ['3', '2', '1']);
  // An option's value: the version whose config a staged rollout takes.
  assert.deepEqual((await tab('sluice rollout start --version ')).replies, ['3', '2', '1']);
  assert.deepEqual((await tab('sluice rollout start --percent 10 --version 2')).replies, ['2']);
  assert.deepEqual((await tab('sluice routes list ')).replies, ['users-api', 'users-admin', 'orders-api']);
  assert.deepEqual((await tab('sluice routes list users-')).replies, ['users-api', 'users-admin']);
  assert.deepEqual((await tab('sluice upstreams list o')).replies, ['orders']);
  // --admin on the line points completion at that gateway.
  assert.deepEqual((await tab(`sluice routes list --admin ${s.adminUrl} orders`, 'http://127.0.0.1:1')).replies, ['orders-api']);
});

test('a file option completes file names', { skip: !hasBash && 'no bash' }, async () => {
  assert.deepEqual((await tab('sluice config apply -f slu')).replies, ['sluice.yaml']);
});

test('with the admin API down, completion is empty, silent and quick', { skip: !hasBash && 'no bash' }, async () => {
  const { replies, ms } = await tab('sluice config rollback ', 'http://127.0.0.1:1');
  assert.deepEqual(replies, []);
  // Generous for a loaded CI machine: a Node start plus a refused connection, not a timeout.
  assert.ok(ms < 5000, `took ${ms} ms`);
});

test('the zsh and fish scripts are printed and name the completion command', async () => {
  for (const shell of ['zsh', 'fish']) {
    const text = execFileSync(process.execPath, [BIN, 'completion', shell], { encoding: 'utf8' });
    assert.match(text, /sluice __complete|__complete/);
  }
});
