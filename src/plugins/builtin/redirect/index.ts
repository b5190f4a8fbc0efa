// redirect: answers with a redirect — to a templated URL (302 unless status says otherwise), or from plain HTTP to
// the same URL over HTTPS (308, which keeps the method and body). "HTTPS" includes a request a trusted proxy
// terminated TLS for and said so in X-Forwarded-Proto.
import type { RedirectPluginConfig } from '../../../config/traffic-plugins-schema.ts';
import { hostWithoutPort } from '../../../routing/host.ts';
import { compileTemplate } from '../../template.ts';
import type { Builtin } from '../types.ts';

export const redirect = {
  name: 'redirect',
  create(config) {
    if (config.https === true) {
      const status = config.status ?? 308;
      const port = config.httpsPort === undefined || config.httpsPort === 443 ? '' : `:${config.httpsPort}`;
      return {
        handle(ctx, next) {
          if (ctx.request.protocol === 'https') return next();
          const host = hostWithoutPort(ctx.request.host);
          if (host === '') return ctx.fail('bad_request');
          ctx.respond(status, undefined, { location: `https://${host}${port}${ctx.request.url}` });
        },
      };
    }
    // A variable the request lacks (a header it did not send) leaves its part empty.
    const to = compileTemplate(config.to!, { missingAsEmpty: true });
    const status = config.status ?? 302;
    return {
      handle(ctx) {
        ctx.respond(status, undefined, { location: to(ctx)! });
      },
    };
  },
} satisfies Builtin<RedirectPluginConfig>;
