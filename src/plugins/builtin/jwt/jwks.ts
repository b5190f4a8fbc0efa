// Remote key sets shared by every jwt instance that names the same URL and cache settings, and kept across
// reloads while one instance holds them: one fetch schedule per issuer, not one per route. jose's RemoteJWKSet
// does the caching (cacheTtl), the refresh on an unknown kid and the floor between fetches (cooldown).
import { createRemoteJWKSet, type RemoteJWKSet } from 'jose';

interface Held {
  readonly jwks: RemoteJWKSet;
  refs: number;
}

export interface JwksSettings {
  readonly url: string;
  readonly cacheTtl: number;
  readonly cooldown: number;
  readonly timeout: number;
}

const shared = new Map<string, Held>();

function keyOf(s: JwksSettings): string {
  return JSON.stringify([s.url, s.cacheTtl, s.cooldown, s.timeout]);
}

export function acquireJwks(settings: JwksSettings): RemoteJWKSet {
  const key = keyOf(settings);
  let held = shared.get(key);
  if (held === undefined) {
    held = {
      jwks: createRemoteJWKSet(new URL(settings.url), {
        cacheMaxAge: settings.cacheTtl,
        cooldownDuration: settings.cooldown,
        timeoutDuration: settings.timeout,
      }),
      refs: 0,
    };
    shared.set(key, held);
  }
  held.refs++;
  return held.jwks;
}

export function releaseJwks(settings: JwksSettings): void {
  const key = keyOf(settings);
  const held = shared.get(key);
  if (held !== undefined && --held.refs === 0) shared.delete(key);
}
