// headers: renames, removes, sets and adds request headers (upstream) and response headers, in that order; values
// are templates compiled once (${consumer.id}, ${request.id}, ${client.ip}…). A set value whose variable is missing
// still removes the field, so a client can never supply a value the gateway was meant to provide.
import type { HeaderChangesConfig, HeadersPluginConfig } from '../../../config/traffic-plugins-schema.ts';
import type { PluginContext } from '../../api.ts';
import { compileTemplate, type Template } from '../../template.ts';
import type { Builtin } from '../types.ts';

interface Changes {
  readonly rename: ReadonlyArray<readonly [string, string]>;
  readonly remove: readonly string[];
  readonly set: ReadonlyArray<readonly [string, Template]>;
  readonly add: ReadonlyArray<readonly [string, Template]>;
}

function compile(config: HeaderChangesConfig | undefined): Changes | undefined {
  if (config === undefined) return undefined;
  const lower = (name: string) => name.toLowerCase();
  return {
    rename: Object.entries(config.rename ?? {}).map(([from, to]) => [lower(from), lower(to)] as const),
    remove: (config.remove ?? []).map(lower),
    set: Object.entries(config.set ?? {}).map(([name, value]) => [lower(name), compileTemplate(value)] as const),
    add: Object.entries(config.add ?? {}).map(([name, value]) => [lower(name), compileTemplate(value)] as const),
  };
}

type Fields = Record<string, string | string[] | undefined>;

function applyToResponse(changes: Changes, ctx: PluginContext, headers: Fields): void {
  for (const [from, to] of changes.rename) {
    if (headers[from] === undefined) continue;
    headers[to] = headers[from];
    delete headers[from];
  }
  for (const name of changes.remove) delete headers[name];
  for (const [name, value] of changes.set) {
    const v = value(ctx);
    if (v === undefined) delete headers[name];
    else headers[name] = v;
  }
  for (const [name, value] of changes.add) {
    const v = value(ctx);
    if (v === undefined) continue;
    const existing = headers[name];
    headers[name] = existing === undefined ? v : Array.isArray(existing) ? [...existing, v] : [existing, v];
  }
}

export const headers = {
  name: 'headers',
  create(config) {
    const request = compile(config.request);
    const response = compile(config.response);
    return {
      handle: request === undefined ? undefined : (ctx, next) => {
        const out = ctx.upstreamRequest.headers;
        for (const [from, to] of request.rename) {
          const value = out.get(from);
          if (value === undefined) continue;
          out.delete(from);
          out.set(to, value);
        }
        for (const name of request.remove) out.delete(name);
        for (const [name, value] of request.set) {
          const v = value(ctx);
          if (v === undefined) out.delete(name);
          else out.set(name, v);
        }
        for (const [name, value] of request.add) {
          const v = value(ctx);
          if (v !== undefined) out.add(name, v);
        }
        return next();
      },
      onResponse: response === undefined ? undefined : (ctx, head) => applyToResponse(response, ctx, head.headers),
    };
  },
} satisfies Builtin<HeadersPluginConfig>;
