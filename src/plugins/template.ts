// Templated config values evaluated per request: the parts were parsed when the config loaded (config/template.ts);
// here they are joined. A value whose variable is missing (no consumer, an absent header) is undefined as a whole,
// so a plugin can leave the field out rather than send half a value (or, on request, the part is left empty).
import { parseTemplate, type TemplateParts, type TemplateRef } from '../config/template.ts';
import type { PluginContext } from './api.ts';

export type Template = (ctx: PluginContext) => string | undefined;

/**
 * @example
 * const value = compileTemplate('Bearer ${consumer.metadata.token}');
 * const header = value(ctx); // undefined for an anonymous request
 */
export function compileTemplate(text: string, options: { missingAsEmpty?: boolean } = {}): Template {
  const parts = parseTemplate(text);
  // The schema has refused bad templates already; this guards a config that bypassed it.
  if (typeof parts === 'string') throw new Error(parts);
  if (parts.every((p) => typeof p === 'string')) {
    const literal = parts.join('');
    return () => literal;
  }
  const empty = options.missingAsEmpty === true;
  return (ctx) => render(parts, ctx, empty);
}

function render(parts: TemplateParts, ctx: PluginContext, missingAsEmpty: boolean): string | undefined {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = lookup(part, ctx);
    if (value !== undefined) out += value;
    else if (!missingAsEmpty) return undefined;
  }
  return out;
}

function lookup(ref: TemplateRef, ctx: PluginContext): string | undefined {
  switch (ref.variable) {
    case 'request.id':
      return ctx.requestId;
    case 'request.method':
      return ctx.request.method;
    case 'request.path':
      return ctx.request.path;
    case 'request.url':
      return ctx.request.url;
    case 'request.host':
      return ctx.request.host;
    case 'request.scheme':
      return ctx.request.protocol;
    case 'request.header': {
      const value = ctx.request.headers[ref.name!];
      return Array.isArray(value) ? value.join(', ') : value;
    }
    case 'request.query':
      return ctx.request.query.get(ref.name!) ?? undefined;
    case 'client.ip':
      return ctx.clientAddress;
    case 'route.name':
      return ctx.route;
    case 'upstream.name':
      return ctx.upstream;
    case 'consumer.id':
      return ctx.consumer?.id;
    case 'consumer.groups':
      return ctx.consumer?.groups.join(',');
    case 'consumer.metadata': {
      const value = ctx.consumer?.metadata[ref.name!];
      if (value === undefined || value === null) return undefined;
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
  }
}
