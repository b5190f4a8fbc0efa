// Config as the admin API shows it: anything that looks like a credential is replaced, whatever its path.
const SECRET_KEY = /(password|secret|token|apikey|api_key|privatekey|private_key|credentials?)$/i;

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) && typeof v === 'string' ? '[redacted]' : redact(v);
  return out;
}
