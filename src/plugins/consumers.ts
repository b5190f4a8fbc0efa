// The consumers of one config, indexed for the authentication plugins: by id, by API-key hash and by basic-auth
// user name. Credentials are only ever held as SHA-256 digests; a presented key or password is hashed and the
// digests compared in constant time (crypto.timingSafeEqual), so neither the lookup nor the comparison tells an
// attacker how close a guess was.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ConsumerConfig } from '../config/consumers-schema.ts';
import type { Consumer, ConsumerDirectory } from './api.ts';

interface Credential {
  readonly consumer: Consumer;
  readonly digest: Buffer;
}

/** Compared against when a user name is unknown, so a miss costs what a hit costs. */
const NO_DIGEST = Buffer.alloc(32);

export class ConsumerIndex implements ConsumerDirectory {
  readonly #byId = new Map<string, Consumer>();
  readonly #byKeyHash = new Map<string, Credential>();
  readonly #byUser = new Map<string, Credential>();

  constructor(configs: readonly ConsumerConfig[]) {
    for (const c of configs) {
      const consumer: Consumer = Object.freeze({ id: c.id, groups: Object.freeze([...c.groups]), metadata: c.metadata });
      this.#byId.set(c.id, consumer);
      for (const key of c.keys) {
        const hex = key.keyHash.slice('sha256:'.length);
        this.#byKeyHash.set(hex, { consumer, digest: Buffer.from(hex, 'hex') });
      }
      if (c.basicAuth !== undefined) {
        this.#byUser.set(c.basicAuth.username, { consumer, digest: Buffer.from(c.basicAuth.passwordHash.slice('sha256:'.length), 'hex') });
      }
    }
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): Consumer | undefined {
    return this.#byId.get(id);
  }

  /** The consumer an API key belongs to. */
  byApiKey(key: string): Consumer | undefined {
    const digest = sha256(key);
    const found = this.#byKeyHash.get(digest.toString('hex'));
    return found !== undefined && timingSafeEqual(digest, found.digest) ? found.consumer : undefined;
  }

  /** The consumer whose basic-auth user name and password these are. */
  byBasicAuth(username: string, password: string): Consumer | undefined {
    const found = this.#byUser.get(username);
    const same = timingSafeEqual(sha256(password), found?.digest ?? NO_DIGEST);
    return found !== undefined && same ? found.consumer : undefined;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export const NO_CONSUMERS = new ConsumerIndex([]);
