// The CLI's side of the admin API: one request helper that knows the base URL (--admin, default
// http://127.0.0.1:9901), the token (SLUICE_ADMIN_TOKEN) and the author, and turns every failure into an
// exit code (DESIGN.md): 1 for what the user can fix in the command (a 4xx), 2 for a gateway that cannot be
// reached or failed (network errors, 5xx).
import { userInfo } from 'node:os';

export const DEFAULT_ADMIN = 'http://127.0.0.1:9901';

export interface AdminTarget {
  admin: string;
  token?: string | undefined;
}

export interface AdminAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: Record<string, unknown> | undefined;
}

/** A failure with the exit code the command should end with and a message for stderr. */
export class CliError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function adminTarget(opts: { admin?: string }): AdminTarget {
  const admin = (opts.admin ?? process.env.SLUICE_ADMIN_URL ?? DEFAULT_ADMIN).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+$/.test(admin)) throw new CliError(`--admin ${admin}: use the admin API's base URL, e.g. ${DEFAULT_ADMIN}`, 1);
  return { admin, token: process.env.SLUICE_ADMIN_TOKEN || undefined };
}

/** Who the CLI writes as, unless --author says otherwise: the local user name. */
export function defaultAuthor(): string {
  try {
    return userInfo().username;
  } catch {
    return 'cli';
  }
}

/**
 * One request. Network failures and timeouts throw CliError(2); any answer (even 4xx/5xx) is returned for the
 * caller to word; `expectOk` turns a non-2xx into CliError with the API's own message.
 */
export async function call(
  target: AdminTarget,
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<AdminAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  let res: Response;
  try {
    res = await fetch(target.admin + path, { method, headers, body: init.body, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
  } catch (err) {
    const why = (err as { cause?: { code?: string; message?: string } }).cause;
    const cause = why?.code ?? why?.message ?? (err as Error).message;
    throw new CliError(`cannot reach the Sluice admin API at ${target.admin} (${cause}); is Sluice running? (--admin URL)`, 2);
  }
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) {
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Throws the API's error as a CliError unless the answer is 2xx. */
export function expectOk(answer: AdminAnswer, what: string): AdminAnswer {
  if (answer.status >= 200 && answer.status < 300) return answer;
  const error = answer.json?.error as { code?: string; message?: string } | undefined;
  const detail = error ? `${error.message} (${error.code})` : `HTTP ${answer.status}`;
  const hint = answer.status === 401 ? '; set SLUICE_ADMIN_TOKEN' : '';
  throw new CliError(`${what}: ${detail}${hint}`, answer.status >= 500 ? 2 : 1);
}
