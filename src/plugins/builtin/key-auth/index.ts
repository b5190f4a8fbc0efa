// key-auth: an API key in a header (or a query parameter) identifies a consumer (consumers[].keys). Keys are
// stored hashed and compared by digest in constant time (plugins/consumers.ts); a key is never logged.
import type { KeyAuthPluginConfig } from '../../../config/auth-plugins-schema.ts';
import type { ConsumerIndex } from '../../consumers.ts';
import { dropQueryParameter, headerValue } from '../credentials.ts';
import type { Builtin } from '../types.ts';

export const keyAuth = {
  name: 'key-auth',
  create(config, env) {
    const challenge = { 'www-authenticate': `ApiKey realm="sluice", header="${config.header}"` };
    return {
      handle(ctx, next) {
        let key = headerValue(ctx.request.headers[config.header]);
        let inQuery = false;
        if ((key === undefined || key === '') && config.query !== undefined) {
          key = ctx.request.query.get(config.query) ?? undefined;
          inQuery = key !== undefined;
        }
        if (key === undefined || key === '') {
          if (config.optional) return next();
          return ctx.fail('unauthorized', challenge);
        }
        const consumer = (ctx.consumers as ConsumerIndex).byApiKey(key);
        if (consumer === undefined) {
          env.log.debug({ route: ctx.route, requestId: ctx.requestId }, 'unknown API key');
          return ctx.fail('unauthorized', challenge);
        }
        ctx.consumer = consumer;
        if (config.hideCredentials) {
          ctx.upstreamRequest.headers.delete(config.header);
          if (inQuery) dropQueryParameter(ctx, config.query!);
        }
        return next();
      },
    };
  },
} satisfies Builtin<KeyAuthPluginConfig>;
