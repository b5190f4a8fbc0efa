// The built-in plugins by name: a registry, not an if-chain (STYLE.md). Their settings' schemas are in
// src/config/plugins-schema.ts under the same names.
import type { z } from 'zod';
import type { PluginName, pluginSchemas } from '../../config/plugins-schema.ts';
import { acl } from './acl/index.ts';
import { basicAuth } from './basic-auth/index.ts';
import { cors } from './cors/index.ts';
import { headers } from './headers/index.ts';
import { ipRestriction } from './ip-restriction/index.ts';
import { jwt } from './jwt/index.ts';
import { keyAuth } from './key-auth/index.ts';
import { rateLimit } from './rate-limit/index.ts';
import { redirect } from './redirect/index.ts';
import { requestId } from './request-id/index.ts';
import { requestSizeLimit } from './request-size-limit/index.ts';
import { staticResponse } from './static-response/index.ts';
import type { Builtin } from './types.ts';

export type { BuiltinEnv, BuiltinServices } from './types.ts';

export const BUILTINS = {
  'rate-limit': rateLimit,
  jwt,
  'key-auth': keyAuth,
  'basic-auth': basicAuth,
  acl,
  cors,
  'ip-restriction': ipRestriction,
  'request-size-limit': requestSizeLimit,
  headers,
  'request-id': requestId,
  redirect,
  'static-response': staticResponse,
} satisfies { [K in PluginName]: Builtin<z.output<(typeof pluginSchemas)[K]>> };
