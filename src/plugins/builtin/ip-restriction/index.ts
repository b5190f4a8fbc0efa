// ip-restriction: allows or refuses the client by address — the address behind trusted proxies
// (server.trustedProxies), so a client cannot pick its own with X-Forwarded-For. IPv4 and IPv6; deny wins.
import type { IpRestrictionPluginConfig } from '../../../config/traffic-plugins-schema.ts';
import { isTrusted, peerAddress } from '../../../proxy/client-address.ts';
import { compileAddressList } from '../../../snapshot/address-list.ts';
import type { Builtin } from '../types.ts';

export const ipRestriction = {
  name: 'ip-restriction',
  create(config) {
    const allow = config.allow === undefined ? undefined : compileAddressList(config.allow);
    const deny = config.deny === undefined ? undefined : compileAddressList(config.deny);
    return {
      handle(ctx, next) {
        // An IPv4 client seen through an IPv6 socket ("::ffff:10.0.0.1") is matched as the IPv4 address it is.
        const address = peerAddress(ctx.clientAddress);
        if (deny !== undefined && isTrusted(deny, address)) return ctx.fail('forbidden');
        if (allow !== undefined && !isTrusted(allow, address)) return ctx.fail('forbidden');
        return next();
      },
    };
  },
} satisfies Builtin<IpRestrictionPluginConfig>;
