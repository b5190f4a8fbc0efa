// jwt: verifies a JSON Web Token (RFC 7519) with jose: the signature against a shared secret (HS*), a public key
// (RS/PS/ES/EdDSA) or the issuer's JWKS, then exp/nbf/iat (with clockSkew), iss, aud, required claims and values,
// and scopes. Only the configured algorithms are accepted, and only ones that fit the key: "none" never, and an
// HMAC algorithm never with a public key (the key-confusion attack). 401 unauthorized for a missing or bad token,
// 403 forbidden for missing scopes, with WWW-Authenticate as RFC 6750 §3 asks. Tokens are never logged.
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { jwtVerify, type JWTPayload, type RemoteJWKSet } from 'jose';
import { JWT_ASYMMETRIC, JWT_HMAC, type JwtPluginConfig } from '../../../config/auth-plugins-schema.ts';
import { readCookie } from '../../../upstream/upstream.ts';
import type { Consumer, Next, PluginContext } from '../../api.ts';
import { dropQueryParameter, headerValue } from '../credentials.ts';
import type { Builtin } from '../types.ts';
import { acquireJwks, releaseJwks, type JwksSettings } from './jwks.ts';
import { VerifiedTokens } from './verified-tokens.ts';

/** The algorithms a public key can verify, by its type (and curve). */
function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'prime256v1' ? ['ES256'] : curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : [];
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      return [];
  }
}

/** The scopes a token carries: "scope" (space-separated, RFC 8693 §4.2) or "scp" (a list, or a string). */
function scopesOf(payload: JWTPayload): Set<string> {
  const raw = payload.scope ?? payload.scp;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(' ') : [];
  return new Set(list.filter((s): s is string => typeof s === 'string' && s !== ''));
}

function hmacKeyFor(keys: Map<string, webcrypto.CryptoKey>, alg: string | undefined): webcrypto.CryptoKey {
  const key = alg === undefined ? undefined : keys.get(alg);
  // jose has already refused algorithms outside the list; this only guards the lookup.
  if (key === undefined) throw new Error(`no key for alg ${String(alg)}`);
  return key;
}

function claimText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export const jwt = {
  name: 'jwt',
  create(config, env) {
    let key: KeyObject | undefined;
    let jwks: RemoteJWKSet | undefined;
    let algorithms: string[];
    /** The secret, imported once per HMAC algorithm in init() (jose would import raw bytes on every verification). */
    let hmacKeys: Map<string, webcrypto.CryptoKey> | undefined;
    if (config.secret !== undefined) {
      algorithms = config.algorithms ?? [...JWT_HMAC];
    } else if (config.publicKey !== undefined) {
      const publicKey = createPublicKey(config.publicKey);
      key = publicKey;
      const fits = algorithmsFor(publicKey);
      algorithms = config.algorithms ?? fits;
      const misfit = algorithms.filter((a) => !fits.includes(a));
      if (misfit.length > 0 || algorithms.length === 0) throw new Error(`publicKey is a ${publicKey.asymmetricKeyType} key: it cannot verify ${misfit.join(', ') || 'any algorithm'}`);
    } else {
      algorithms = config.algorithms ?? [...JWT_ASYMMETRIC];
    }
    const jwksSettings: JwksSettings | undefined =
      config.jwksUrl === undefined ? undefined : { url: config.jwksUrl, cacheTtl: config.jwks.cacheTtl, cooldown: config.jwks.cooldown, timeout: config.jwks.timeout };
    const options = {
      algorithms,
      issuer: config.issuer,
      audience: config.audience,
      requiredClaims: config.requiredClaims,
      clockTolerance: config.clockSkew / 1000,
      maxTokenAge: config.maxAge === undefined ? undefined : config.maxAge / 1000,
    };
    const verified = new VerifiedTokens(config.cache.tokens, config.cache.ttl);
    const required = Object.entries(config.claims);
    const scopes = config.scopes;
    const forwarded = Object.entries(config.forwardClaims);
    const from = config.from ?? { header: 'authorization' };
    const bearer = 'header' in from && from.header === 'authorization';
    const challenge = 'Bearer realm="sluice"';
    const invalid = { 'www-authenticate': `${challenge}, error="invalid_token"` };

    const tokenOf = (ctx: PluginContext): string | undefined => {
      if ('header' in from) {
        const value = headerValue(ctx.request.headers[from.header]);
        if (!bearer) return value || undefined;
        const match = value === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
        return match?.[1];
      }
      if ('query' in from) return ctx.request.query.get(from.query) ?? undefined;
      return readCookie(headerValue(ctx.request.headers.cookie), from.cookie);
    };

    const consumerOf = (ctx: PluginContext, payload: JWTPayload): Consumer | undefined => {
      if (config.consumerClaim === undefined) return undefined;
      const id = payload[config.consumerClaim];
      if (typeof id !== 'string' || id === '') return undefined;
      const known = ctx.consumers.get(id);
      if (known !== undefined) return known;
      const raw = config.groupsClaim === undefined ? undefined : payload[config.groupsClaim];
      const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? raw.split(' ').filter((g) => g !== '') : [];
      return Object.freeze({ id, groups: Object.freeze(groups), metadata: Object.freeze({}) });
    };

    const accept = (ctx: PluginContext, payload: JWTPayload): string | undefined => {
      for (const [claim, value] of required) if (payload[claim] !== value) return `claim "${claim}" does not have the required value`;
      return undefined;
    };

    /** Checks the signature and the registered claims; the payload, remembered, or undefined (logged) when refused. */
    const verify = async (ctx: PluginContext, token: string, now: number): Promise<Readonly<JWTPayload> | undefined> => {
      try {
        const result = jwks !== undefined
          ? await jwtVerify(token, jwks, options)
          : hmacKeys !== undefined
            ? await jwtVerify(token, (header: { alg?: string }) => hmacKeyFor(hmacKeys!, header.alg), options)
            : await jwtVerify(token, key!, options);
        return verified.remember(token, result.payload, now, config.clockSkew, config.maxAge);
      } catch (err) {
        env.log.debug({ route: ctx.route, requestId: ctx.requestId, reason: (err as { code?: string }).code ?? (err as Error).message }, 'token refused');
        return undefined;
      }
    };

    /** A valid token: the configured claims and scopes, then the consumer and forwarded claims, and on. */
    const admit = (ctx: PluginContext, next: Next, payload: Readonly<JWTPayload>): Promise<void> | void => {
      const refused = accept(ctx, payload);
      if (refused !== undefined) {
        env.log.debug({ route: ctx.route, requestId: ctx.requestId, reason: refused }, 'token refused');
        return ctx.fail('unauthorized', invalid);
      }
      if (scopes.length > 0) {
        const granted = scopesOf(payload);
        if (!scopes.every((s) => granted.has(s))) {
          return ctx.fail('forbidden', { 'www-authenticate': `${challenge}, error="insufficient_scope", scope="${scopes.join(' ')}"` });
        }
      }
      ctx.state.set('jwt', payload);
      const consumer = consumerOf(ctx, payload);
      if (consumer !== undefined) ctx.consumer = consumer;
      for (const [claim, header] of forwarded) {
        const value = payload[claim];
        if (value !== undefined && value !== null) ctx.upstreamRequest.headers.set(header, claimText(value));
      }
      if (config.hideCredentials) {
        if ('header' in from) ctx.upstreamRequest.headers.delete(from.header);
        else if ('query' in from) dropQueryParameter(ctx, from.query);
      }
      return next();
    };

    return {
      async init() {
        if (config.secret !== undefined) {
          const raw = new TextEncoder().encode(config.secret);
          const imported = algorithms.map(async (alg) => [alg, await webcrypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: `SHA-${alg.slice(2)}` }, false, ['verify'])] as const);
          hmacKeys = new Map(await Promise.all(imported));
          return;
        }
        if (jwksSettings === undefined) return;
        jwks = acquireJwks(jwksSettings);
        // Fetch the keys now so the first request does not wait; an issuer that is down must not block a reload.
        if (jwks.jwks() === undefined) {
          jwks.reload().catch((err: Error) => env.log.warn({ url: config.jwksUrl, err: err.message }, 'JWKS not reachable yet; retried when a token needs it'));
        }
      },
      handle(ctx, next) {
        // Whatever the outcome, the client cannot supply the headers the claims are forwarded in.
        for (const [, header] of forwarded) ctx.upstreamRequest.headers.delete(header);
        const token = tokenOf(ctx);
        if (token === undefined) {
          if (config.optional) return next();
          return ctx.fail('unauthorized', { 'www-authenticate': challenge });
        }
        const now = Date.now();
        const payload = verified.get(token, now);
        // A token verified recently goes on synchronously: no promise, so the chain completes without allocating one.
        if (payload !== undefined) return admit(ctx, next, payload);
        return verify(ctx, token, now).then((fresh) => (fresh === undefined ? ctx.fail('unauthorized', invalid) : admit(ctx, next, fresh)));
      },
      dispose() {
        if (jwks !== undefined && jwksSettings !== undefined) releaseJwks(jwksSettings);
      },
    };
  },
} satisfies Builtin<JwtPluginConfig>;
