// basic-auth: HTTP Basic authentication (RFC 7617) against consumers[].basicAuth; passwords are stored hashed and
// compared by digest in constant time, an unknown user costing what a known one does.
import type { BasicAuthPluginConfig } from '../../../config/auth-plugins-schema.ts';
import type { ConsumerIndex } from '../../consumers.ts';
import { headerValue } from '../credentials.ts';
import type { Builtin } from '../types.ts';

/** user and password of "Basic <base64(user:password)>", or undefined when the header is not that. */
function parseBasic(header: string | undefined): [string, string] | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon <= 0 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

export const basicAuth = {
  name: 'basic-auth',
  create(config, env) {
    // RFC 7617 §2.1: the charset parameter says user names and passwords are UTF-8.
    const challenge = { 'www-authenticate': `Basic realm="${config.realm}", charset="UTF-8"` };
    return {
      handle(ctx, next) {
        const header = headerValue(ctx.request.headers.authorization);
        if (header === undefined) {
          if (config.optional) return next();
          return ctx.fail('unauthorized', challenge);
        }
        const credentials = parseBasic(header);
        const consumer = credentials === undefined ? undefined : (ctx.consumers as ConsumerIndex).byBasicAuth(credentials[0], credentials[1]);
        if (consumer === undefined) {
          env.log.debug({ route: ctx.route, requestId: ctx.requestId }, 'basic-auth credentials refused');
          return ctx.fail('unauthorized', challenge);
        }
        ctx.consumer = consumer;
        if (config.hideCredentials) ctx.upstreamRequest.headers.delete('authorization');
        return next();
      },
    };
  },
} satisfies Builtin<BasicAuthPluginConfig>;
