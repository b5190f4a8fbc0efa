// The commands that talk to a running Sluice through its admin API: config get/apply/diff/history/rollback,
// routes list, upstreams list, status. Definitions only; the work is in control-actions.ts, imported when one
// of them runs, so `sluice --help` and shell completion stay quick.
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ADMIN } from './admin-client.ts';
import { OUTPUTS, type Output } from './output.ts';

export interface AdminOptions {
  admin?: string;
  output?: Output;
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('use a version number, e.g. 3');
  return Number(value);
}

/** --admin and --output on a command that calls the admin API. */
function withAdmin(cmd: Command, defaultOutput: Output = 'table'): Command {
  return cmd
    .addOption(new Option('--admin <url>', `admin API base URL (env SLUICE_ADMIN_URL; default ${DEFAULT_ADMIN}); token from SLUICE_ADMIN_TOKEN`))
    .addOption(new Option('-o, --output <format>', 'output format').choices([...OUTPUTS]).default(defaultOutput));
}

async function actions(): Promise<typeof import('./control-actions.ts')> {
  return import('./control-actions.ts');
}

export function addControlCommands(program: Command): void {
  const config = program.command('config').description('read and change the running config through the admin API (versioned, audited)');

  withAdmin(config.command('get').description('print the running config as YAML (secrets redacted), or a stored version of it'), 'yaml')
    .argument('[version]', 'a stored version instead of the running one', positiveInt)
    .action(async (version: number | undefined, opts: AdminOptions) => (await actions()).configGet(version, opts));

  withAdmin(config.command('apply').description('validate and apply a config file as a new version (written to the gateway\'s config file, or to etcd with store.etcd)'))
    .requiredOption('-f, --file <file>', 'the YAML (or JSON) config to apply')
    .option('-m, --message <text>', 'why: recorded with the version and in the audit log')
    .option('--author <name>', 'recorded as the author (default: your user name; with a token, beside the token\'s name)')
    .option('--if-match <n>', 'apply only if this is still the current version (default: the version current when the command starts)', positiveInt)
    .option('--force', 'apply whatever the current version is (If-Match: *)')
    .option('--dry-run', 'validate and show the diff against the running config; change nothing')
    .action(async (opts: AdminOptions & ApplyOptions) => (await actions()).configApply(opts));

  withAdmin(config.command('diff').description('unified diff: between two versions, from a version to the running one, or from the running config to a local file'))
    .argument('[from]', 'version to diff from (default: the one before the running version)', positiveInt)
    .argument('[to]', 'version to diff to (default: the running version)', positiveInt)
    .option('-f, --file <file>', 'diff the running config against this local file instead (a dry run)')
    .action(async (from: number | undefined, to: number | undefined, opts: AdminOptions & { file?: string }) => (await actions()).configDiff(from, to, opts));

  withAdmin(config.command('history').description('the stored versions, newest first: time, author, source, message'))
    .option('-n, --limit <n>', 'how many', positiveInt, 20)
    .action(async (opts: AdminOptions & { limit: number }) => (await actions()).configHistory(opts));

  withAdmin(config.command('rollback').description('make a new version whose content is an earlier version\'s, and apply it'))
    .argument('<version>', 'the version to roll back to', positiveInt)
    .option('-m, --message <text>', 'why (default: "rollback to version N")')
    .option('--author <name>', 'recorded as the author (default: your user name)')
    .action(async (version: number, opts: AdminOptions & { message?: string; author?: string }) => (await actions()).configRollback(version, opts));

  const routes = program.command('routes').description('the routes of the running config');
  withAdmin(routes.command('list').description('every route (or the named ones): match, upstream, plugins'))
    .argument('[names...]', 'only these routes')
    .action(async (names: string[], opts: AdminOptions) => (await actions()).routesList(names, opts));

  const upstreams = program.command('upstreams').description('the upstreams of the running gateway');
  withAdmin(upstreams.command('list').description('every upstream (or the named ones) with each target\'s live health'))
    .argument('[names...]', 'only these upstreams')
    .action(async (names: string[], opts: AdminOptions) => (await actions()).upstreamsList(names, opts));

  withAdmin(program.command('status').description('is the gateway ready, which config version runs, where it listens; exit 0 ready, 2 not ready or unreachable'))
    .action(async (opts: AdminOptions) => (await actions()).status(opts));
}

export interface ApplyOptions {
  file: string;
  message?: string;
  author?: string;
  ifMatch?: number;
  force?: boolean;
  dryRun?: boolean;
}
