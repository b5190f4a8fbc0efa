// `sluice rollout start|status|promote|abort|list` and `sluice instances list`: staged rollouts across a fleet
// sharing etcd (docs/distributed.md). Definitions only; the work is in rollout-actions.ts, imported when one runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ADMIN } from './admin-client.ts';
import { OUTPUTS, type Output } from './output.ts';

export interface RolloutStartOptions {
  admin?: string;
  output?: Output;
  file?: string;
  version?: number;
  labels?: string[];
  percent?: number;
  window?: string;
  maxErrorRate?: number;
  maxP99?: string;
  minRequests?: number;
  message?: string;
  author?: string;
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('use a whole number, e.g. 3');
  return Number(value);
}

function percent(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n < 1 || n > 100) throw new InvalidArgumentError('use a percentage from 1 to 100');
  return n;
}

function rate(value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || n > 1) throw new InvalidArgumentError('use a share from 0 to 1, e.g. 0.01 for 1%');
  return n;
}

function label(value: string, previous: string[] = []): string[] {
  if (!/^[^=\s]+=[^=\s]*$/.test(value)) throw new InvalidArgumentError('use name=value, e.g. zone=a');
  return [...previous, value];
}

function withAdmin(cmd: Command): Command {
  return cmd
    .addOption(new Option('--admin <url>', `admin API base URL of any instance (env SLUICE_ADMIN_URL; default ${DEFAULT_ADMIN}); token from SLUICE_ADMIN_TOKEN`))
    .addOption(new Option('-o, --output <format>', 'output format').choices([...OUTPUTS]).default('table'));
}

async function actions(): Promise<typeof import('./rollout-actions.ts')> {
  return import('./rollout-actions.ts');
}

export function addRolloutCommands(program: Command): void {
  const rollout = program.command('rollout').description('staged rollout of a config to some instances of a fleet sharing etcd, promoted or rolled back by their metrics');

  withAdmin(rollout.command('start').description('apply a config to the selected instances, watch their error rate and p99 for a window, then promote it to all or roll it back'))
    .option('-f, --file <file>', 'the candidate config (YAML or JSON)')
    .option('--version <n>', 'roll out a stored version\'s config instead', positiveInt)
    .option('--labels <name=value>', 'canaries are the instances with this label (repeat for several; all must match)', label)
    .option('--percent <p>', 'of the matching instances, this share (rounded up, at least one)', percent)
    .option('--window <duration>', 'how long the canaries are watched, from the last one applying it', '60s')
    .option('--max-error-rate <share>', 'roll back above this share of 5xx answers', rate, 0.01)
    .option('--max-p99 <duration>', 'roll back above this p99 request duration', '1s')
    .option('--min-requests <n>', 'fewer requests than this over the window: not enough to judge, rolled back', positiveInt, 50)
    .option('-m, --message <text>', 'why: recorded with the version if it is promoted, and in the audit log')
    .option('--author <name>', 'recorded as the author (default: your user name)')
    .action(async (opts: RolloutStartOptions) => (await actions()).rolloutStart(opts));

  withAdmin(rollout.command('status').description('the rollout observing now (or the last one): canaries, their figures, time left, the decision and why'))
    .action(async (opts: { admin?: string; output?: Output }) => (await actions()).rolloutStatus(opts));

  withAdmin(rollout.command('list').description('finished rollouts, newest first'))
    .option('-n, --limit <n>', 'how many', positiveInt, 20)
    .action(async (opts: { admin?: string; output?: Output; limit: number }) => (await actions()).rolloutList(opts));

  for (const [name, what] of [['promote', 'promote the observing rollout now: its config becomes the next version on every instance'], ['abort', 'roll the observing rollout back now: its canaries return to the newest version']] as const) {
    withAdmin(rollout.command(name).description(what))
      .option('-m, --message <text>', 'why (recorded in the audit log)')
      .option('--author <name>', 'recorded as the author (default: your user name)')
      .action(async (opts: { admin?: string; output?: Output; message?: string; author?: string }) => (await actions()).rolloutEnd(name, opts));
  }

  const instances = program.command('instances').description('the instances of a fleet sharing etcd');
  withAdmin(instances.command('list').description('every live instance: id, labels, admin address, config version, its part in a rollout'))
    .action(async (opts: { admin?: string; output?: Output }) => (await actions()).instancesList(opts));
}
