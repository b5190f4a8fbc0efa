// Shell completion. The scripts for bash, zsh and fish are thin: each hands the words typed so far to the hidden
// `sluice __complete` command and offers what it prints, one candidate per line. The candidates come from the
// commander program itself (commands, options, choices), so completion cannot drift from the CLI, plus route
// names, upstream names and version numbers (as arguments, and as the value of `rollout start --version`) fetched
// from the admin API — with a short timeout and no output at all when it cannot be reached, so a TAB never hangs
// or prints noise.
import type { Command, Option } from 'commander';
import { adminTarget, call } from './admin-client.ts';

/** How long a TAB may wait for the admin API. */
const FETCH_TIMEOUT_MS = 700;

/** Printed alone: the shell should complete file names. */
export const FILES = '__files__';

/** Positional arguments that take names or versions from the running gateway. */
const DYNAMIC_ARGS: Record<string, 'routes' | 'upstreams' | 'versions'> = {
  'config get': 'versions',
  'config rollback': 'versions',
  'config diff': 'versions',
  'routes list': 'routes',
  'upstreams list': 'upstreams',
};
/** Option values that take version numbers from the running gateway, by command and option. */
const DYNAMIC_OPTIONS: Record<string, 'versions'> = {
  'rollout start --version': 'versions',
};
const FILE_OPTIONS = new Set(['--file', '--config']);
const STATIC_ARGS: Record<string, string[]> = { completion: ['bash', 'zsh', 'fish'] };

/**
 * The candidates for the last word of `words` (the words after `sluice`; the last one may be empty).
 *
 * @example
 * await complete(program, ['config', 'roll']); // ['rollback']
 */
export async function complete(program: Command, words: string[]): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  let cmd = program;
  const path: string[] = [];
  let admin: string | undefined;
  let pendingOption: Option | undefined;
  let pendingAdmin = false;
  for (const word of before) {
    if (pendingAdmin || pendingOption) {
      if (pendingAdmin) admin = word;
      pendingOption = undefined;
      pendingAdmin = false;
      continue;
    }
    if (word.startsWith('-')) {
      const [flag, inline] = word.split('=', 2);
      // --admin counts wherever it is typed: completion then asks that gateway.
      if (flag === '--admin') {
        if (inline === undefined) pendingAdmin = true;
        else admin = inline;
        continue;
      }
      const option = findOption(cmd, flag!);
      if (option && (option.required || option.optional) && inline === undefined) pendingOption = option;
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub) {
      cmd = sub;
      path.push(sub.name());
    }
  }
  const key = path.join(' ');
  if (pendingOption) {
    const long = pendingOption.long ?? '';
    if (FILE_OPTIONS.has(long)) return [FILES];
    const dynamicOption = DYNAMIC_OPTIONS[`${key} ${long}`];
    if (dynamicOption) return filter(await fetchNames(dynamicOption, admin), current);
    return pendingOption.argChoices ? filter(pendingOption.argChoices, current) : [];
  }
  if (current.startsWith('-')) {
    const options = cmd.options.filter((o) => !o.hidden).flatMap((o) => [o.long ?? o.short ?? '']);
    return filter([...options, '--help'], current);
  }
  // Hidden commands (`__complete`) start with "__".
  const subs = cmd.commands.map((c) => c.name()).filter((name) => !name.startsWith('__'));
  if (subs.length > 0) return filter(subs, current);
  if (STATIC_ARGS[key]) return filter(STATIC_ARGS[key], current);
  const dynamic = DYNAMIC_ARGS[key];
  return dynamic ? filter(await fetchNames(dynamic, admin), current) : [];
}

function findOption(cmd: Command, flag: string): Option | undefined {
  return cmd.options.find((o) => o.long === flag || o.short === flag);
}

function filter(candidates: readonly string[], prefix: string): string[] {
  return candidates.filter((c) => c.startsWith(prefix));
}

/** Names from the admin API, or [] when it is down, slow, or refuses: completion must stay silent. */
async function fetchNames(kind: 'routes' | 'upstreams' | 'versions', admin: string | undefined): Promise<string[]> {
  try {
    const target = adminTarget({ admin });
    if (kind === 'versions') {
      const answer = await call(target, 'GET', '/api/v1/config/versions?limit=100', { timeoutMs: FETCH_TIMEOUT_MS });
      return ((answer.json?.versions as Array<{ version: number }> | undefined) ?? []).map((v) => String(v.version));
    }
    const answer = await call(target, 'GET', '/api/v1/config', { timeoutMs: FETCH_TIMEOUT_MS });
    const config = answer.json?.config as { routes?: Array<{ name: string }>; upstreams?: Array<{ name: string }> } | undefined;
    return (config?.[kind] ?? []).map((x) => x.name);
  } catch {
    return [];
  }
}

/** The completion script for a shell; `sluice completion bash > /etc/bash_completion.d/sluice`, or source it. */
export function completionScript(shell: 'bash' | 'zsh' | 'fish'): string {
  switch (shell) {
    case 'bash':
      return `# sluice completion for bash: source <(sluice completion bash)
_sluice() {
  # Words from the line itself, split on blanks only: COMP_WORDS would split --admin http://host:port at ":".
  local line="\${COMP_LINE:0:COMP_POINT}"
  local -a words
  read -ra words <<< "$line"
  [[ "$line" == *[[:blank:]] || \${#words[@]} -eq 0 ]] && words+=("")
  local cur="\${words[-1]}"
  local IFS=$'\\n'
  local candidates
  candidates=($("\${COMP_WORDS[0]}" __complete "\${words[@]:1}" 2>/dev/null))
  if [[ "\${candidates[0]}" == "${FILES}" ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=("\${candidates[@]}")
  fi
}
complete -o default -F _sluice sluice
`;
    case 'zsh':
      return `#compdef sluice
# sluice completion for zsh: source <(sluice completion zsh)  (after compinit)
_sluice() {
  local -a candidates
  candidates=("\${(@f)$("\${words[1]}" __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ "\${candidates[1]}" == "${FILES}" ]]; then
    _files
  elif (( \${#candidates} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -- "\${candidates[@]}"
  fi
}
compdef _sluice sluice
`;
    case 'fish':
      return `# sluice completion for fish: sluice completion fish | source
function __sluice_complete
  set -l words (commandline -opc)
  set -e words[1]
  set -l candidates (sluice __complete $words (commandline -ct) 2>/dev/null)
  if test "$candidates[1]" = "${FILES}"
    __fish_complete_path (commandline -ct)
  else
    printf '%s\\n' $candidates
  end
end
complete -c sluice -f -a '(__sluice_complete)'
`;
  }
}
