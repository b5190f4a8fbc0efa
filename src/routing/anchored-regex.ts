// Route regexes (pathRegex, header and query `regex`) must match the whole value, so they are wrapped in ^(?:…)$.

/**
 * Compiles `source` so that it only matches a whole string. `where` names the config field for the error message.
 * The source is compiled alone first: "a)|(b" would otherwise slip through as the valid but unanchored
 * "^(?:a)|(b)$".
 *
 * @example
 * compileAnchoredRegex('/v[0-9]+/.*', 'pathRegex').test('/v2/users'); // true
 */
export function compileAnchoredRegex(source: string, where: string): RegExp {
  try {
    new RegExp(source);
    return new RegExp(`^(?:${source})$`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`${where}: "${source}" is not a valid regular expression (${reason})`, { cause: err });
  }
}
