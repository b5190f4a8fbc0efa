// `consumers:`: the identities authentication plugins recognise (key-auth, basic-auth, jwt with consumerClaim) and
// that other plugins use (acl by group, rate-limit key: consumer, header templates). Credentials are kept hashed:
// a clear `key:` or `password:` is hashed while the config loads, so the validated config, the admin API and the
// logs only ever hold `sha256:<hex>`.
import { createHash } from 'node:crypto';
import { z } from 'zod';

const SHA256 = /^sha256:[0-9a-f]{64}$/;

/** "sha256:<64 lower-case hex digits>" of a UTF-8 string, as credentials are stored. */
export function sha256Credential(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

const hashed = (what: string) =>
  z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.string().regex(SHA256, `a ${what} hash is "sha256:" and 64 hex digits, e.g. the output of: printf %s "$SECRET" | sha256sum`));

const apiKey = z
  .union([
    z
      .strictObject({ key: z.string().min(16, 'an API key needs at least 16 characters').describe('The key in clear; hashed when the config loads (prefer keyHash).') })
      .transform(({ key }) => ({ keyHash: sha256Credential(key) })),
    z.strictObject({ keyHash: hashed('key').describe('sha256 of the key: "sha256:<hex>" (printf %s "$KEY" | sha256sum).') }),
  ])
  .describe('One API key of this consumer, for the key-auth plugin: { keyHash } or { key }.');

const basicAuth = z
  .union([
    z
      .strictObject({
        username: z.string().min(1).regex(/^[^:]+$/, 'a basic-auth username cannot contain ":"').describe('The user name.'),
        password: z.string().min(1).describe('The password in clear; hashed when the config loads (prefer passwordHash).'),
      })
      .transform(({ username, password }) => ({ username, passwordHash: sha256Credential(password) })),
    z.strictObject({
      username: z.string().min(1).regex(/^[^:]+$/, 'a basic-auth username cannot contain ":"').describe('The user name.'),
      passwordHash: hashed('password').describe('sha256 of the password: "sha256:<hex>".'),
    }),
  ])
  .describe('A user name and password for the basic-auth plugin: { username, passwordHash } or { username, password }.');

export const consumerSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.@:-]{0,127}$/, 'consumer ids are 1-128 letters, digits, "_", ".", "@", ":" or "-"')
    .describe('Unique id; rate limits with key: consumer and ${consumer.id} use it.'),
  groups: z.array(z.string().min(1)).default([]).describe('Groups the acl plugin allows or denies.'),
  metadata: z.record(z.string(), z.unknown()).default({}).describe('Free-form facts for plugins and ${consumer.metadata.NAME}.'),
  keys: z.array(apiKey).default([]).describe('API keys (key-auth).'),
  basicAuth: basicAuth.optional(),
});

export const consumersSchema = z
  .array(consumerSchema)
  .default([])
  .describe('Identities that authentication plugins recognise: id, groups, metadata and hashed credentials.');

export type ConsumerConfig = z.output<typeof consumerSchema>;
