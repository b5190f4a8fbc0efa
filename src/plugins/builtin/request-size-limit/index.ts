// request-size-limit: 413 payload_too_large for a body over maxSize — at once when Content-Length says so, else as
// soon as the streamed body grows past it (the upstream request is then aborted).
import type { RequestSizeLimitPluginConfig } from '../../../config/traffic-plugins-schema.ts';
import type { Builtin } from '../types.ts';

export const requestSizeLimit = {
  name: 'request-size-limit',
  create(config) {
    return {
      handle(ctx, next) {
        if (!ctx.request.hasBody) return next();
        ctx.request.limitBody(config.maxSize);
        if (ctx.answered) return;
        return next();
      },
    };
  },
} satisfies Builtin<RequestSizeLimitPluginConfig>;
