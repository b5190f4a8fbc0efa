// Tokens verified recently, remembered by their exact text so the next request carrying the same token skips the
// signature check (a client sends the same token for many requests; Envoy's jwt_authn caches the same way). Only
// successful verifications are kept, never longer than the token's own validity (exp, and iat + maxAge, with the
// clock skew) nor than `ttl`, so a key removed from the JWKS stops a token within ttl at the latest. The cache
// belongs to one plugin instance: new settings (a new secret, key or issuer) start with an empty one.
import type { JWTPayload } from 'jose';

/**
 * Entries are found by the token's last characters, which lie in its signature and are as good as random, and the
 * whole token is compared on a hit: each request carries the token in a new string whose hash V8 has not computed,
 * and hashing an RS256 token's 600-odd characters was a quarter of the plugin phase's CPU. Another token with the
 * same ending is simply a miss (verified, and then remembered in that slot).
 */
const INDEX_CHARS = 32;

function indexOf(token: string): string {
  return token.length > 2 * INDEX_CHARS ? token.slice(-INDEX_CHARS) : token;
}

interface Entry {
  readonly token: string;
  readonly payload: Readonly<JWTPayload>;
  /** Epoch ms after which the token must be verified again (and then fails if it expired). */
  readonly until: number;
}

export class VerifiedTokens {
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, Entry>();

  constructor(max: number, ttlMs: number) {
    this.#max = max;
    this.#ttlMs = ttlMs;
  }

  get(token: string, now: number): Readonly<JWTPayload> | undefined {
    const index = indexOf(token);
    const entry = this.#entries.get(index);
    if (entry === undefined || entry.token !== token) return undefined;
    if (now < entry.until) return entry.payload;
    this.#entries.delete(index);
    return undefined;
  }

  /** Remembers a verified token; returns the payload, frozen (requests share it). */
  remember(token: string, payload: JWTPayload, now: number, skewMs: number, maxAgeMs: number | undefined): Readonly<JWTPayload> {
    const frozen = Object.freeze(payload);
    if (this.#max === 0) return frozen;
    let until = now + this.#ttlMs;
    if (typeof payload.exp === 'number') until = Math.min(until, payload.exp * 1000 + skewMs);
    if (maxAgeMs !== undefined && typeof payload.iat === 'number') until = Math.min(until, payload.iat * 1000 + maxAgeMs + skewMs);
    if (this.#entries.size >= this.#max) {
      // The oldest entry goes first: a cheap bound, and a token still in use is simply verified and kept again.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(indexOf(token), { token, payload: frozen, until });
    return frozen;
  }
}
