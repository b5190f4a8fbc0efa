// acl: lets a request through when its consumer (set by an authentication plugin before it) is in an allowed
// group and in no denied one. No consumer, no entry: 403 forbidden.
import type { AclPluginConfig } from '../../../config/auth-plugins-schema.ts';
import type { Builtin } from '../types.ts';

export const acl = {
  name: 'acl',
  create(config) {
    const allow = config.allow === undefined ? undefined : new Set(config.allow);
    const deny = new Set(config.deny ?? []);
    return {
      handle(ctx, next) {
        const groups = ctx.consumer?.groups;
        if (groups === undefined) return ctx.fail('forbidden');
        if (groups.some((g) => deny.has(g))) return ctx.fail('forbidden');
        if (allow !== undefined && !groups.some((g) => allow.has(g))) return ctx.fail('forbidden');
        return next();
      },
    };
  },
} satisfies Builtin<AclPluginConfig>;
