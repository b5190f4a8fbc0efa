// What every write on the admin API needs besides its body: who is writing (author), why (message), which
// version it was based on (If-Match), and a line in the audit log.
import type http from 'node:http';
import type { AuditEntry } from '../store/audit-log.ts';
import type { AdminControl } from './control.ts';
import { headerText } from './respond.ts';
import type { AdminContext } from './router.ts';

const MAX_AUTHOR = 200;
const MAX_MESSAGE = 2000;

/** The ETag of a config version: the version number, as a strong entity tag (RFC 9110 §8.8.3). */
export function etag(version: number): string {
  return `"${version}"`;
}

export type Precondition = { kind: 'missing' } | { kind: 'any' } | { kind: 'versions'; versions: number[] } | { kind: 'invalid'; message: string };

/**
 * Reads If-Match: `"7"` (the ETag as given), a bare `7` (lenient, for hand-written curl commands), a list, or
 * `*` (whatever is current: an explicit overwrite). Weak tags never match (RFC 9110 §13.1.1 uses strong
 * comparison for If-Match).
 */
export function precondition(req: http.IncomingMessage): Precondition {
  const header = req.headers['if-match'];
  if (header === undefined || header.trim() === '') return { kind: 'missing' };
  if (header.trim() === '*') return { kind: 'any' };
  const versions: number[] = [];
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag.startsWith('W/')) continue;
    const m = /^"?(\d{1,15})"?$/.exec(tag);
    if (!m) return { kind: 'invalid', message: `If-Match: ${header} is not a version's ETag; send e.g. If-Match: "7" (the ETag of GET /api/v1/config) or *` };
    versions.push(Number(m[1]));
  }
  return { kind: 'versions', versions };
}

/** The version a write expects to replace, or undefined for `*`. */
export function expectedVersion(pre: Precondition, current: number): number | undefined {
  if (pre.kind !== 'versions') return undefined;
  // Of several tags, the current one (if listed) is the one the client based its write on.
  return pre.versions.includes(current) ? current : (pre.versions[0] ?? -1);
}

/**
 * With a token, the token's name (X-Sluice-Author, when also sent, is recorded beside it: a shared CI token
 * still says on whose behalf it wrote). Without tokens, X-Sluice-Author or "anonymous".
 */
export function authorOf(req: http.IncomingMessage, ctx: AdminContext): string {
  const claimed = headerText(req, 'x-sluice-author')?.slice(0, MAX_AUTHOR);
  if (ctx.tokenName !== undefined) return claimed === undefined || claimed === ctx.tokenName ? ctx.tokenName : `${claimed} (token ${ctx.tokenName})`;
  return claimed ?? 'anonymous';
}

/** `?message=` (any characters, URL-encoded) or X-Sluice-Message; `fallback` when neither is given. */
export function messageOf(req: http.IncomingMessage, ctx: AdminContext, fallback: string): string {
  const given = ctx.query.get('message') ?? headerText(req, 'x-sluice-message');
  return (given === null || given === undefined || given.trim() === '' ? fallback : given.trim()).slice(0, MAX_MESSAGE);
}

/** Appends one audit line for a write; `fields` says what happened. */
export function recordWrite(
  control: AdminControl,
  req: http.IncomingMessage,
  actor: string,
  fields: Omit<AuditEntry, 'time' | 'actor' | 'remote'>,
): Promise<void> {
  return control.audit({ time: new Date().toISOString(), actor, ...fields, remote: req.socket.remoteAddress ?? '' });
}
