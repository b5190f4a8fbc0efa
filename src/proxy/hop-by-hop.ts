// RFC 9110 §7.6.1: connection-specific header fields are for one hop only and must not be forwarded,
// nor may any field named in Connection. Proxy-Connection and Keep-Alive are legacy fields of the same kind.
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

/** Field names listed in a Connection header (lower-case), or undefined when it names only "close"/"keep-alive". */
export function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let tokens: Set<string> | undefined;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const token = part.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive') continue;
    (tokens ??= new Set()).add(token);
  }
  return tokens;
}
