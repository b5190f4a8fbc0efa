// The settings of the traffic plugins: cors, ip-restriction, request-size-limit, headers, request-id, redirect and
// static-response. Their code lives in src/plugins/builtin/; templated values are parsed here (config/template.ts).
import { z } from 'zod';
import { isIpOrCidr } from './address.ts';
import { parseTemplate } from './template.ts';
import { duration, size } from './units.ts';

const HEADER_NAME = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name is a token, e.g. x-user-id');
const METHOD = z.string().regex(/^[A-Z]+$/, 'methods are upper-case tokens such as GET or POST');

/** A string that may hold ${…} references; checked when the config loads. */
const template = z.string().superRefine((text, ctx) => {
  const parsed = parseTemplate(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

export const corsPluginSchema = z
  .strictObject({
    origins: z
      .array(z.string().regex(/^(\*|null|https?:\/\/(\*\.)?[^/\s*]+)$/, 'an origin is "*", "null" or scheme://host[:port] (a leading "*." allows subdomains), with no path'))
      .min(1)
      .default(['*'])
      .describe('Allowed origins: "*" (any), exact ones such as https://app.example.com, or https://*.example.com for subdomains.'),
    methods: z.array(METHOD).min(1).default(['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE']).describe('Methods a preflight may ask for.'),
    allowHeaders: z.array(HEADER_NAME).optional().describe('Request headers a preflight may ask for (default: whatever it asks for).'),
    exposeHeaders: z.array(HEADER_NAME).default([]).describe('Response headers scripts may read (Access-Control-Expose-Headers).'),
    credentials: z.boolean().default(false).describe('Allow cookies and credentials; the origin is then echoed, never "*".'),
    maxAge: duration.prefault('10m').describe('How long browsers may cache a preflight answer (Access-Control-Max-Age).'),
  })
  .describe('CORS: answers preflight requests (403 cors_rejected for an origin, method or header not allowed) and adds the Access-Control-* fields to responses.');
export type CorsPluginConfig = z.output<typeof corsPluginSchema>;

const cidr = z.string().refine(isIpOrCidr, 'use an IP address or a CIDR range, e.g. 10.0.0.0/8, 192.168.1.10, 2001:db8::/32 or ::1');

export const ipRestrictionPluginSchema = z
  .strictObject({
    allow: z.array(cidr).min(1).optional().describe('Only these addresses or CIDR ranges may pass.'),
    deny: z.array(cidr).min(1).optional().describe('These addresses or ranges are refused (deny wins over allow).'),
  })
  .refine((c) => c.allow !== undefined || c.deny !== undefined, 'give allow, deny or both')
  .describe('Allows or refuses clients by address (IPv4 and IPv6; the address behind trusted proxies): 403 forbidden.');
export type IpRestrictionPluginConfig = z.output<typeof ipRestrictionPluginSchema>;

export const requestSizeLimitPluginSchema = z
  .strictObject({
    maxSize: size.describe('Largest request body; larger gets 413 payload_too_large (checked on Content-Length and while streaming).'),
  })
  .describe('A body size limit for the routes it is attached to.');
export type RequestSizeLimitPluginConfig = z.output<typeof requestSizeLimitPluginSchema>;

const headerChanges = z.strictObject({
  set: z.record(HEADER_NAME, template).optional().describe('Headers set, replacing any value; values may use ${…} (a value whose variable is missing removes the header).'),
  add: z.record(HEADER_NAME, template).optional().describe('Headers appended, keeping existing ones; values may use ${…}.'),
  remove: z.array(HEADER_NAME).optional().describe('Headers removed.'),
  rename: z.record(HEADER_NAME, HEADER_NAME).optional().describe('Headers renamed: { old-name: new-name }.'),
});
export type HeaderChangesConfig = z.output<typeof headerChanges>;

export const headersPluginSchema = z
  .strictObject({
    request: headerChanges.optional().describe('Changes to the request sent upstream (after routes[].requestHeaders).'),
    response: headerChanges.optional().describe('Changes to the response sent to the client.'),
  })
  .describe('Adds, sets, removes and renames request and response headers; values may use ${consumer.id}, ${request.id}, ${client.ip}…');
export type HeadersPluginConfig = z.output<typeof headersPluginSchema>;

export const requestIdPluginSchema = z
  .strictObject({
    header: HEADER_NAME.toLowerCase().default('x-correlation-id').describe('Header carrying the id upstream (and back, with response).'),
    trustIncoming: z.boolean().default(true).describe('Keep a sane id the client sent in this header; otherwise use the request\'s own id.'),
    response: z.boolean().default(true).describe('Also put the header on the response.'),
  })
  .describe('Carries a correlation id in a header of your choice (the request id in server.requestIdHeader is always there).');
export type RequestIdPluginConfig = z.output<typeof requestIdPluginSchema>;

const REDIRECT_STATUS = z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]);

export const redirectPluginSchema = z
  .strictObject({
    to: template.optional().describe('Where to send the client: a URL or path, with ${…}, e.g. https://new.example.com${request.url}.'),
    https: z.boolean().optional().describe('Redirect plain-HTTP requests to the same URL over HTTPS (requests already on HTTPS pass).'),
    httpsPort: z.number().int().min(1).max(65_535).optional().describe('Port of the HTTPS URL (default: 443, left out of the URL).'),
    status: REDIRECT_STATUS.optional().describe('301, 302, 303, 307 or 308 (default: 308 for https, 302 for to).'),
  })
  .refine((c) => (c.to === undefined) !== (c.https !== true), 'give either to or https: true')
  .describe('Answers with a redirect: to a templated URL, or from HTTP to HTTPS.');
export type RedirectPluginConfig = z.output<typeof redirectPluginSchema>;

export const staticResponsePluginSchema = z
  .strictObject({
    status: z.number().int().min(200).max(599).default(200).describe('Status of the answer.'),
    body: z.string().optional().describe('Body as text.'),
    json: z.unknown().optional().describe('Body as JSON (content-type application/json).'),
    headers: z.record(HEADER_NAME, z.string()).default({}).describe('Response headers.'),
  })
  .refine((c) => c.body === undefined || c.json === undefined, 'give body or json, not both')
  .describe('Answers every request itself (a mock, a maintenance page); the upstream is not called.');
export type StaticResponsePluginConfig = z.output<typeof staticResponsePluginSchema>;

