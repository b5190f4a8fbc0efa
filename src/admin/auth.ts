// Who may use the admin API. With a token configured (SLUICE_ADMIN_TOKEN, admin.tokenFile) every endpoint but
// the probes needs `Authorization: Bearer <token>`; without one the admin API must listen on loopback, and it
// refuses a Host header that is not a loopback name (a web page that rebinds its DNS name to 127.0.0.1 would
// otherwise be same-origin with it).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type http from 'node:http';

/** Probes stay open: a kubelet or load balancer asks them without credentials, and they reveal nothing. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Shorter tokens are refused: a guessable token is no better than none. */
export const MIN_TOKEN_LENGTH = 16;

export interface TokenSources {
  /** SLUICE_ADMIN_TOKEN; named "admin". */
  envToken?: string | undefined;
  /** Absolute path of admin.tokenFile. */
  tokenFile?: string | undefined;
  /** Told when the token file cannot be read or parsed after start (every request is then refused). */
  onError?: (message: string) => void;
}

interface NamedToken {
  name: string;
  digest: Buffer;
}

export type AuthResult =
  | { ok: true; tokenName: string | undefined }
  | { ok: false; code: 'unauthorized' | 'forbidden_host'; message: string };

export class AdminAuth {
  readonly #env: NamedToken | undefined;
  readonly #file: string | undefined;
  readonly #onError: (message: string) => void;
  #fileTokens: NamedToken[] = [];
  /** mtime, size and inode of the token file when it was read: a rotation is picked up on the next request. */
  #fileStamp = '';
  #fileError: string | undefined;

  /** Throws (with a message saying what to do) when a token source is configured but unusable. */
  constructor(sources: TokenSources) {
    this.#onError = sources.onError ?? (() => {});
    if (sources.envToken !== undefined && sources.envToken !== '') {
      checkToken(sources.envToken, 'SLUICE_ADMIN_TOKEN');
      this.#env = { name: 'admin', digest: digest(sources.envToken) };
    }
    this.#file = sources.tokenFile;
    if (this.#file !== undefined) {
      this.#refresh();
      if (this.#fileError !== undefined) throw new Error(this.#fileError);
    }
  }

  /** Whether any token is configured: then every non-probe request must present one. */
  get enabled(): boolean {
    return this.#env !== undefined || this.#file !== undefined;
  }

  check(req: http.IncomingMessage, path: string): AuthResult {
    if (OPEN_PATHS.has(path)) return { ok: true, tokenName: undefined };
    if (!this.enabled) {
      if (!isLoopbackHost(req.headers.host)) {
        return { ok: false, code: 'forbidden_host', message: `Host "${req.headers.host ?? ''}" is not a loopback name; use 127.0.0.1, [::1] or localhost, or configure an admin token` };
      }
      return { ok: true, tokenName: undefined };
    }
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) return { ok: false, code: 'unauthorized', message: 'this admin API needs "Authorization: Bearer <token>"' };
    const name = this.#find(match[1]!);
    if (name === undefined) return { ok: false, code: 'unauthorized', message: 'the bearer token is not valid' };
    return { ok: true, tokenName: name };
  }

  /**
   * Compares digests of equal length with timingSafeEqual, against every token without stopping at the first
   * match, so neither the time taken nor an early exit tells an attacker anything about the tokens.
   */
  #find(presented: string): string | undefined {
    if (this.#file !== undefined) this.#refresh();
    const given = digest(presented);
    let found: string | undefined;
    for (const token of this.#tokens()) {
      if (timingSafeEqual(given, token.digest) && found === undefined) found = token.name;
    }
    return found;
  }

  #tokens(): NamedToken[] {
    // An unreadable token file fails closed: only the env token (if any) still works.
    const fromFile = this.#fileError === undefined ? this.#fileTokens : [];
    return this.#env ? [this.#env, ...fromFile] : fromFile;
  }

  #refresh(): void {
    const file = this.#file!;
    let stamp: string;
    try {
      const st = statSync(file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (err) {
      this.#setError(`cannot read the admin token file ${file}: ${(err as Error).message}`);
      return;
    }
    if (stamp === this.#fileStamp && this.#fileError === undefined) return;
    try {
      this.#fileTokens = parseTokenFile(readFileSync(file, 'utf8'), file);
      this.#fileStamp = stamp;
      this.#fileError = undefined;
    } catch (err) {
      this.#setError((err as Error).message);
    }
  }

  #setError(message: string): void {
    if (message !== this.#fileError) this.#onError(message);
    this.#fileError = message;
    this.#fileStamp = '';
  }
}

/**
 * `name: token` per line; blank lines and `#` comments are skipped; a line that is only a token is named
 * "admin".
 *
 * @example
 * parseTokenFile('# deploys\nci: 0f3a…\nalice: 9b1c…\n', 'tokens'); // [{ name: 'ci', … }, { name: 'alice', … }]
 */
export function parseTokenFile(text: string, file: string): NamedToken[] {
  const tokens: NamedToken[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? 'admin' : line.slice(0, colon).trim();
    const token = colon < 0 ? line : line.slice(colon + 1).trim();
    if (!/^[\w.@-]{1,64}$/.test(name)) throw new Error(`${file}:${i + 1}: a token name is 1-64 letters, digits, "_", ".", "@" or "-"`);
    checkToken(token, `${file}:${i + 1}`);
    tokens.push({ name, digest: digest(token) });
  }
  if (tokens.length === 0) throw new Error(`${file}: no token in the admin token file; write one "name: token" per line`);
  return tokens;
}

function checkToken(token: string, where: string): void {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(`${where}: an admin token needs at least ${MIN_TOKEN_LENGTH} characters and no spaces (e.g. the output of \`openssl rand -hex 32\`)`);
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** 127.0.0.0/8, ::1 and "localhost", with or without a port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  return isLoopbackAddress(name.toLowerCase());
}

export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::ffff:127.0.0.1';
}
