// Shared by the authentication plugins: taking a credential out of the upstream request (hideCredentials), and the
// 401 they answer with (RFC 9110 §11.6.1: a 401 carries WWW-Authenticate naming the scheme to use).
import type { PluginContext } from '../api.ts';

/** Removes a query parameter from the path sent upstream. */
export function dropQueryParameter(ctx: PluginContext, name: string): void {
  const target = ctx.upstreamRequest.path;
  const q = target.indexOf('?');
  if (q === -1) return;
  const params = new URLSearchParams(target.slice(q + 1));
  if (!params.has(name)) return;
  params.delete(name);
  const rest = params.toString();
  ctx.upstreamRequest.path = rest === '' ? target.slice(0, q) : `${target.slice(0, q)}?${rest}`;
}

/** The first value of a header, as a string. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
