// The sluice command: parses flags, calls the runtime, prints, and exits with DESIGN.md's codes
// (0 ok, 1 invalid input, 2 runtime failure). No gateway logic lives here.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { StartupError } from '../runtime/errors.ts';
import { CliError } from './admin-client.ts';
import { addControlCommands } from './control-commands.ts';
import { addRegisterCommand } from './register-command.ts';
import { addRolloutCommands } from './rollout-commands.ts';

// The config loader (zod, yaml) and the runtime (undici, pino) are imported by the commands that use them:
// `sluice version` and `--help` answer in a few dozen milliseconds instead of most of a second.

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function workerCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError('use a whole number from 1 to 1024, e.g. --workers 2');
  return n;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Sluice: an API gateway — reverse proxy, routing, load balancing and hot reload, configured in YAML.')
    .version(pkg.version, '-v, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text) })
    // Root options only before a command: `sluice config get --version` must not print Sluice's version.
    .enablePositionalOptions();

  program
    .command('start')
    .description('run the gateway (proxy listeners and the admin API) and reload when the config file changes')
    .option('-c, --config <file>', 'config file', 'sluice.yaml')
    .option('-w, --workers <n>', 'worker processes sharing the listeners (default: number of cores)', workerCount)
    .action(async (opts: { config: string; workers?: number }) => {
      await start(opts.config, opts.workers ?? availableParallelism());
    });

  program
    .command('validate')
    .description('check a config file and print every error with its line and column; exit 0 when valid, 1 when not')
    .option('-c, --config <file>', 'config file', 'sluice.yaml')
    .action(async (opts: { config: string }) => {
      const { formatConfigError, loadConfigFile } = await import('../config/load.ts');
      const result = await loadConfigFile(opts.config);
      if (!result.ok) {
        for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
        process.stderr.write(`${result.errors.length} error${result.errors.length === 1 ? '' : 's'}; nothing was changed\n`);
        process.exitCode = 1;
        return;
      }
      const c = result.config;
      const summary = [count(c.listeners.length, 'listener'), count(c.upstreams.length, 'upstream'), count(c.routes.length, 'route')].join(', ');
      process.stdout.write(`${opts.config}: ok (${summary})\n`);
    });

  program
    .command('version')
    .description('print the Sluice and Node.js versions')
    .action(() => {
      process.stdout.write(`sluice ${pkg.version} (node ${process.version})\n`);
    });

  addControlCommands(program);
  addRolloutCommands(program);
  addRegisterCommand(program);

  program
    .command('completion')
    .description('print the shell completion script: source <(sluice completion bash), or zsh, or sluice completion fish | source')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') throw new CliError(`no completion for "${shell}": use bash, zsh or fish`, 1);
      process.stdout.write((await import('./completion.ts')).completionScript(shell));
    });

  // Called by the completion scripts with the words typed so far; prints candidates, one per line, and nothing
  // else, ever (errors included): a TAB must not print noise.
  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .passThroughOptions()
    .helpOption(false)
    .action(async (words: string[]) => {
      try {
        const candidates = await (await import('./completion.ts')).complete(buildProgram(), words);
        if (candidates.length > 0) process.stdout.write(candidates.join('\n') + '\n');
      } catch {
        // silent by design
      }
    });

  return program;
}

async function start(configPath: string, workers: number): Promise<void> {
  const { createLogger } = await import('../observability/logger.ts');
  const log = createLogger();
  if (cluster.isWorker) return (await import('../runtime/cluster-worker.ts')).runWorker(log);
  let running: { close(): Promise<void> };
  try {
    running =
      workers === 1
        ? await (await import('../runtime/single.ts')).startSingle(configPath, log)
        : await (await import('../runtime/cluster-primary.ts')).startPrimary(configPath, workers, log);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    process.stderr.write(err.message + '\n');
    process.exit(err.exitCode);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(2);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight requests');
    running.close().then(
      () => {
        log.info('stopped');
        log.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(2);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1)).parseAsync(argv);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`sluice: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  }
}
