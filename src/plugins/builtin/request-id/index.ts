// request-id: carries a correlation id in a header of your choice, upstream and (by default) back to the client:
// the client's own when it is a sane token and trusted, else the request's id (server.requestIdHeader).
import type { RequestIdPluginConfig } from '../../../config/traffic-plugins-schema.ts';
import { incomingRequestId } from '../../../proxy/route-request.ts';
import type { Builtin } from '../types.ts';

export const requestId = {
  name: 'request-id',
  create(config) {
    return {
      handle(ctx, next) {
        const incoming = config.trustIncoming ? incomingRequestId(ctx.request.headers[config.header]) : undefined;
        const id = incoming ?? ctx.requestId;
        ctx.upstreamRequest.headers.set(config.header, id);
        if (config.response) ctx.response.headers.set(config.header, id);
        return next();
      },
    };
  },
} satisfies Builtin<RequestIdPluginConfig>;
