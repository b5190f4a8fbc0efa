// `npm start`: two demo upstream instances on 127.0.0.1:3001 and :3002, and Sluice in front of them on :8080
// with the admin API on 127.0.0.1:9901, all in this one process.
//
// Other ports (a CI machine, a second copy, a test on free ports) come from the environment; 0 means any free port:
//   SLUICE_QUICKSTART_PORT=8081 SLUICE_QUICKSTART_ADMIN_PORT=9902 SLUICE_QUICKSTART_DEMO_PORTS=4001,4002 npm start
// With any of them set, the quickstart runs a copy of quickstart.yaml with those ports, written to a temp directory.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { main } from '../src/cli/main.ts';
import { portOf, startDemoUpstream } from './demo-upstream.ts';

const env = process.env;
const proxyPort = port('SLUICE_QUICKSTART_PORT', env.SLUICE_QUICKSTART_PORT ?? '8080');
const adminPort = port('SLUICE_QUICKSTART_ADMIN_PORT', env.SLUICE_QUICKSTART_ADMIN_PORT ?? '9901');
const demoPorts = (env.SLUICE_QUICKSTART_DEMO_PORTS ?? '3001,3002').split(',').map((p) => port('SLUICE_QUICKSTART_DEMO_PORTS', p));
if (demoPorts.length !== 2) fail('SLUICE_QUICKSTART_DEMO_PORTS takes two ports, e.g. 3001,3002');
const overridden = ['SLUICE_QUICKSTART_PORT', 'SLUICE_QUICKSTART_ADMIN_PORT', 'SLUICE_QUICKSTART_DEMO_PORTS'].some((name) => env[name] !== undefined);

const demos: number[] = [];
try {
  for (const [i, p] of demoPorts.entries()) demos.push(portOf(await startDemoUpstream(`demo-${i + 1}`, p)));
} catch (err) {
  fail(`cannot start the demo upstream (${(err as Error).message}); free ports ${demoPorts.join(' and ')} or set SLUICE_QUICKSTART_DEMO_PORTS`, 2);
}

const shipped = fileURLToPath(new URL('./quickstart.yaml', import.meta.url));
const config = overridden ? writeConfigWithPorts(shipped) : shipped;
const proxyShown = proxyPort === 0 ? 'PORT' : String(proxyPort);
const adminShown = adminPort === 0 ? 'ADMIN_PORT' : String(adminPort);
process.stderr.write(
  '\nSluice quickstart' + (proxyPort === 0 || adminPort === 0 ? ' (ports chosen by the OS: see the "sluice started" line)' : '') + '\n' +
    `  proxy   http://localhost:${proxyShown}   try: curl localhost:${proxyShown}/api/users   (twice: the instance alternates)\n` +
    `  admin   http://127.0.0.1:${adminShown}   try: curl 127.0.0.1:${adminShown}/api/v1/config\n` +
    `  config  ${config}  (edit it: routing changes within a second)\n\n`,
);
await main([process.argv[0]!, 'sluice', 'start', '-c', config, '--workers', '1']);

/** quickstart.yaml with the chosen ports, comments kept, in a temp directory removed when the process exits. */
function writeConfigWithPorts(source: string): string {
  const doc = parseDocument(readFileSync(source, 'utf8'));
  const listen = String(doc.getIn(['listeners', 0, 'address']));
  doc.setIn(['listeners', 0, 'address'], `${listen.slice(0, listen.lastIndexOf(':'))}:${proxyPort}`);
  doc.setIn(['admin', 'address'], `127.0.0.1:${adminPort}`);
  for (const [i, p] of demos.entries()) doc.setIn(['upstreams', 0, 'targets', i, 'url'], `http://127.0.0.1:${p}`);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-quickstart-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'quickstart.yaml');
  writeFileSync(path, doc.toString());
  return path;
}

function port(name: string, text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) fail(`${name}: "${text}" is not a port (0-65535; 0 picks a free one)`);
  return n;
}

function fail(message: string, code = 1): never {
  process.stderr.write(`quickstart: ${message}\n`);
  process.exit(code);
}
