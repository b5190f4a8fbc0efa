// The settings of the authentication and authorisation plugins: jwt, key-auth, basic-auth and acl. Their code
// lives in src/plugins/builtin/; the schemas live here so a mistake is a config error with its file:line:col.
import { z } from 'zod';
import { duration } from './units.ts';

export const JWT_HMAC = ['HS256', 'HS384', 'HS512'] as const;
export const JWT_ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
const JWT_ALGORITHMS = [...JWT_HMAC, ...JWT_ASYMMETRIC] as const;

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const HEADER_NAME = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name is a token, e.g. x-user-id').toLowerCase();

const tokenSource = z
  .union([
    z.strictObject({ header: HEADER_NAME.describe('Read the token from this header ("authorization" expects "Bearer <token>").') }),
    z.strictObject({ query: z.string().min(1).describe('Read the token from this query parameter.') }),
    z.strictObject({ cookie: z.string().min(1).describe('Read the token from this cookie.') }),
  ])
  .describe('Where the token is: { header }, { query } or { cookie } (default: Authorization: Bearer).');

export const jwtPluginSchema = z
  .strictObject({
    secret: z.string().min(1).optional().describe('Shared secret of HS256/384/512 tokens (UTF-8).'),
    publicKey: z.string().min(1).optional().describe('PEM public key (SPKI) of RS/PS/ES/EdDSA tokens.'),
    jwksUrl: z.string().regex(/^https?:\/\/\S+$/, 'a JWKS URL is http(s)://…').optional().describe('URL of the issuer\'s JSON Web Key Set, fetched and cached.'),
    jwks: z
      .strictObject({
        cacheTtl: duration.prefault('10m').describe('How long fetched keys are trusted before the set is fetched again.'),
        cooldown: duration.prefault('30s').describe('Least time between two fetches: a token with an unknown kid refetches the set at most this often.'),
        timeout: duration.prefault('5s').describe('A JWKS fetch slower than this fails (the token is refused).'),
      })
      .prefault({})
      .describe('JWKS caching and refresh.'),
    algorithms: z
      .array(z.enum(JWT_ALGORITHMS))
      .min(1)
      .optional()
      .describe('Accepted algorithms (default: HS256/384/512 with secret; with a key or JWKS, the asymmetric ones that fit it). "none" is never accepted.'),
    issuer: oneOrMany.optional().describe('Required iss (one value or a list of accepted ones).'),
    audience: oneOrMany.optional().describe('Required aud: the token must name one of these.'),
    requiredClaims: z.array(z.string().min(1)).default([]).describe('Claims that must be present (exp is always checked when present).'),
    claims: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}).describe('Claims that must have exactly these values.'),
    scopes: z.array(z.string().min(1)).default([]).describe('Scopes the token must all carry (in "scope", space-separated, or "scp"); missing ones get 403.'),
    cache: z
      .strictObject({
        tokens: z.number().int().min(0).default(10_000).describe('Verified tokens remembered (0: verify every request).'),
        ttl: duration.prefault('1m').describe('Longest time a verified token is taken on trust (never past its exp).'),
      })
      .prefault({})
      .describe('Tokens verified recently skip the signature check until they expire or ttl passes.'),
    clockSkew: duration.prefault('30s').describe('Tolerance for exp, nbf and iat against this machine\'s clock.'),
    maxAge: duration.optional().describe('Refuse tokens issued (iat) longer ago than this.'),
    from: tokenSource.optional(),
    forwardClaims: z.record(z.string(), HEADER_NAME).default({}).describe('Claims sent upstream as headers, e.g. { sub: x-user-id }. A client\'s own copy of such a header is always removed.'),
    consumerClaim: z.string().min(1).optional().describe('Claim naming the consumer (e.g. sub): a known consumer id, or else an ad-hoc consumer with that id.'),
    groupsClaim: z.string().min(1).optional().describe('Claim with the groups of an ad-hoc consumer (a list or a space-separated string).'),
    optional: z.boolean().default(false).describe('Let requests without a token through anonymously (an invalid token is still refused).'),
    hideCredentials: z.boolean().default(false).describe('Do not send the token upstream.'),
  })
  .superRefine((c, ctx) => {
    const keys = [c.secret, c.publicKey, c.jwksUrl].filter((k) => k !== undefined).length;
    if (keys !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of secret, publicKey or jwksUrl' });
    const hmac = (c.algorithms ?? []).filter((a) => (JWT_HMAC as readonly string[]).includes(a));
    // Key confusion: an HMAC algorithm with a public key would let anyone who knows the key sign tokens.
    if (c.secret === undefined && hmac.length > 0) ctx.addIssue({ code: 'custom', path: ['algorithms'], message: `${hmac.join(', ')} need a secret; with a public key or JWKS use RS/PS/ES/EdDSA algorithms` });
    if (c.secret !== undefined && (c.algorithms ?? []).length > hmac.length) ctx.addIssue({ code: 'custom', path: ['algorithms'], message: 'a secret verifies HS256/384/512 only' });
  })
  .describe('JSON Web Tokens (HS/RS/PS/ES/EdDSA; JWKS by URL): 401 for a missing, invalid or expired token, 403 for missing scopes.');
export type JwtPluginConfig = z.output<typeof jwtPluginSchema>;

export const keyAuthPluginSchema = z
  .strictObject({
    header: HEADER_NAME.default('x-api-key').describe('Header carrying the API key.'),
    query: z.string().min(1).optional().describe('Also accept the key in this query parameter.'),
    optional: z.boolean().default(false).describe('Let requests without a key through anonymously (a wrong key is still refused).'),
    hideCredentials: z.boolean().default(false).describe('Do not send the key upstream.'),
  })
  .describe('API keys of consumers (consumers[].keys), compared by hash in constant time: 401 without a valid key.');
export type KeyAuthPluginConfig = z.output<typeof keyAuthPluginSchema>;

export const basicAuthPluginSchema = z
  .strictObject({
    realm: z.string().regex(/^[^"\\]*$/, 'a realm cannot contain quotes or backslashes').default('sluice').describe('Realm named in WWW-Authenticate.'),
    optional: z.boolean().default(false).describe('Let requests without credentials through anonymously.'),
    hideCredentials: z.boolean().default(false).describe('Do not send the Authorization header upstream.'),
  })
  .describe('HTTP Basic authentication (RFC 7617) against consumers[].basicAuth: 401 with WWW-Authenticate without valid credentials.');
export type BasicAuthPluginConfig = z.output<typeof basicAuthPluginSchema>;

export const aclPluginSchema = z
  .strictObject({
    allow: z.array(z.string().min(1)).min(1).optional().describe('Groups allowed in: the consumer must be in one of them.'),
    deny: z.array(z.string().min(1)).min(1).optional().describe('Groups kept out (deny wins over allow).'),
  })
  .refine((c) => c.allow !== undefined || c.deny !== undefined, 'give allow, deny or both')
  .describe('Allows or denies the authenticated consumer by group; 403 forbidden otherwise (and without a consumer). Put it after an authentication plugin.');
export type AclPluginConfig = z.output<typeof aclPluginSchema>;
