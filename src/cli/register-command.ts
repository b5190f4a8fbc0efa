// `sluice register`: keeps one instance of a service in the etcd registry until it is stopped, for a process that
// cannot import `sluice/register` (a service in another language, a sidecar). Exit codes as DESIGN.md says:
// 1 bad flags, 2 etcd unreachable at start; 0 after SIGTERM/SIGINT, with the registration removed.
import { Command, InvalidArgumentError } from 'commander';
import { CliError } from './admin-client.ts';

interface RegisterFlags {
  etcd: string[];
  service: string;
  url: string;
  weight: number;
  ttl: number;
  prefix: string;
  id?: string;
  username?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

function seconds(value: string): number {
  const m = /^(\d+)(s|m)?$/.exec(value);
  const n = m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
  if (!(n >= 2 && n <= 3600)) throw new InvalidArgumentError('use a time from 2s to 60m, e.g. 10s');
  return n;
}

function weight(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10_000) throw new InvalidArgumentError('use a whole number from 1 to 10000');
  return Number(value);
}

function endpoints(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((s) => s !== '')];
}

export function addRegisterCommand(program: Command): void {
  program
    .command('register')
    .description('register a service instance in the etcd registry with a heartbeat, until stopped (upstreams find it with discovery: { etcd: { service } })')
    .requiredOption('--etcd <urls>', 'etcd client URL(s), comma-separated or repeated, e.g. http://127.0.0.1:2379', endpoints)
    .requiredOption('--service <name>', 'the service name')
    .requiredOption('--url <origin>', 'this instance\'s origin, e.g. http://10.0.0.5:8080')
    .option('--weight <n>', 'share of traffic relative to other instances', weight, 1)
    .option('--ttl <time>', 'removed this long after the last heartbeat (a heartbeat goes every third of it)', seconds, 10)
    .option('--prefix <prefix>', 'registry key prefix', '/sluice/services/')
    .option('--id <id>', 'instance id in the registry (default: host-pid-random)')
    .option('--username <user>', 'etcd user, when etcd has authentication enabled; the password comes from SLUICE_ETCD_PASSWORD')
    .option('--ca <file>', 'PEM file of the CA that signed etcd\'s certificate (https:// endpoints; default: the system\'s)')
    .option('--cert <file>', 'PEM file of a client certificate, when etcd requires one (with --key)')
    .option('--key <file>', 'PEM file of the client certificate\'s key')
    .action(async (flags: RegisterFlags) => runRegister(flags));
}

/** --ca/--cert/--key as register()'s tls (paths from the working directory, as a command line's are). */
function tlsOf(flags: RegisterFlags): { tls?: { ca?: string; cert?: string; key?: string } } {
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new CliError('give --cert and --key together', 1);
  if (flags.ca === undefined && flags.cert === undefined) return {};
  return { tls: { ...(flags.ca === undefined ? {} : { ca: flags.ca }), ...(flags.cert === undefined ? {} : { cert: flags.cert, key: flags.key! }) } };
}

async function runRegister(flags: RegisterFlags): Promise<void> {
  const [{ register }, { createLogger }] = await Promise.all([import('../discovery/register.ts'), import('../observability/logger.ts')]);
  const log = createLogger();
  const tls = tlsOf(flags);
  let registration: Awaited<ReturnType<typeof register>>;
  try {
    registration = await register({
      etcd: flags.etcd,
      service: flags.service,
      url: flags.url,
      weight: flags.weight,
      ttl: flags.ttl,
      prefix: flags.prefix,
      ...(flags.id === undefined ? {} : { id: flags.id }),
      ...(flags.username === undefined ? {} : { username: flags.username, password: process.env.SLUICE_ETCD_PASSWORD ?? '' }),
      ...tls,
      onError: (err) => log.warn({ err: err.message }, 'registration lost; registering again when etcd answers'),
      onRegistered: () => log.info({ service: flags.service, url: flags.url }, 'registered again'),
    });
  } catch (err) {
    throw new CliError((err as Error).message, err instanceof TypeError ? 1 : 2);
  }
  log.info({ key: registration.key, service: flags.service, url: flags.url, ttl: flags.ttl }, 'registered');
  const stop = (signal: string) => {
    log.info({ signal, key: registration.key }, 'deregistering');
    void registration.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
