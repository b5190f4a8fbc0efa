// Config as the admin API shows it: anything that looks like a credential is replaced, whatever its path —
// fields named like secrets, header values that carry credentials (`requestHeaders.set.authorization`), and
// the password in a URL's userinfo (`http://user:pass@host`).
const SECRET_KEY = /(pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|credentials?|authorization)$/i;
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/i;

export const REDACTED = '[redacted]';

export function redact(value: unknown): unknown {
  if (typeof value === 'string') return redactUrlPassword(value);
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = isSecretKey(key) && typeof v === 'string' ? REDACTED : redact(v);
  return out;
}

/** A field whose string value is a credential. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** The password of a URL's userinfo replaced; any other string unchanged. */
export function redactUrlPassword(value: string): string {
  return value.replace(URL_PASSWORD, `$1:${REDACTED}@`);
}
