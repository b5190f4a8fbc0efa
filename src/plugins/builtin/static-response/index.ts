// static-response: answers every request itself, without calling the upstream (mocks, maintenance pages).
import type { StaticResponsePluginConfig } from '../../../config/traffic-plugins-schema.ts';
import type { Builtin } from '../types.ts';

export const staticResponse = {
  name: 'static-response',
  create(config) {
    const headers = { ...config.headers };
    let body: Buffer | undefined;
    if (config.json !== undefined) {
      body = Buffer.from(JSON.stringify(config.json));
      headers['content-type'] ??= 'application/json';
    } else if (config.body !== undefined) {
      body = Buffer.from(config.body);
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    }
    return {
      handle(ctx) {
        ctx.respond(config.status, body, headers);
      },
    };
  },
} satisfies Builtin<StaticResponsePluginConfig>;
