// Path rewrites of a route, compiled once: strip a prefix, replace the matched prefix, or rewrite by regex.
import type { RouteConfig } from '../config/schema.ts';

export type PathRewrite = (path: string) => string;

export function compilePathRewrite(route: RouteConfig): PathRewrite | undefined {
  const steps: PathRewrite[] = [];
  if (route.stripPrefix) steps.push(replacePrefix(route.stripPrefix, ''));
  const rewrite = route.rewrite;
  if (rewrite && 'prefix' in rewrite) {
    const matched = route.match.pathPrefix ?? '/';
    const from = route.stripPrefix && matched.startsWith(route.stripPrefix) ? matched.slice(route.stripPrefix.length) || '/' : matched;
    steps.push(replacePrefix(from, rewrite.prefix));
  } else if (rewrite) {
    const re = new RegExp(rewrite.regex);
    const replacement = rewrite.replacement;
    steps.push((path) => path.replace(re, replacement));
  }
  if (steps.length === 0) return undefined;
  if (steps.length === 1) return steps[0];
  return (path) => steps.reduce((p, step) => step(p), path);
}

/** Replaces `prefix` at the start of the path when it ends on a segment boundary; the result always starts with "/". */
function replacePrefix(prefix: string, replacement: string): PathRewrite {
  const bare = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const base = replacement.endsWith('/') ? replacement.slice(0, -1) : replacement;
  return function rewritePrefix(path) {
    if (!path.startsWith(bare)) return path;
    const rest = path.slice(bare.length);
    if (rest !== '' && rest[0] !== '/') return path; // "/apix" does not start with the segment "/api"
    const out = base + rest;
    return out === '' ? '/' : out[0] === '/' ? out : '/' + out;
  };
}
