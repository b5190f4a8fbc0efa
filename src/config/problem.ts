// What the config checks report before positions are known: a path into the config and a plain-English message.

/** A path into the config, e.g. ['routes', 1, 'match', 'pathPrefix']. */
export type ConfigPath = readonly (string | number)[];

/** One thing wrong with a config, located by path; load.ts turns it into a ConfigError with line and column. */
export interface ConfigProblem {
  /** The node the message is about: for a missing or unknown field, the map that should (not) hold it. */
  path: ConfigPath;
  message: string;
  /** Point at this key of the map at `path` rather than at the map itself (unknown fields). */
  key?: string;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Prints a path the way users write it.
 *
 * @example
 * formatPath(['routes', 1, 'match', 'pathPrefix']); // 'routes[1].match.pathPrefix'
 * formatPath(['routes', 0, 'match', 'headers', 'x.y']); // 'routes[0].match.headers["x.y"]'
 */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
