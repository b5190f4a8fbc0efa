// Consumers as the authentication plugins look them up: by API key and by basic-auth credentials, through hashes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumersSchema, sha256Credential } from '../config/consumers-schema.ts';
import { ConsumerIndex } from './consumers.ts';

const consumers = new ConsumerIndex(
  consumersSchema.parse([
    { id: 'alice', groups: ['admins'], keys: [{ key: 'alice-key-0123456789' }], basicAuth: { username: 'alice', password: 'wonderland' } },
    { id: 'bob', keys: [{ keyHash: sha256Credential('bob-key-0123456789ab').toUpperCase().replace('SHA256', 'sha256') }] },
  ]),
);

test('clear keys and passwords are hashed when the config loads; the clear text is gone', () => {
  const parsed = consumersSchema.parse([{ id: 'c', keys: [{ key: 'clear-key-0123456789' }], basicAuth: { username: 'c', password: 'pw' } }]);
  const text = JSON.stringify(parsed);
  assert.ok(!text.includes('clear-key-0123456789') && !text.includes('"pw"'), text);
  assert.match(text, /"keyHash":"sha256:[0-9a-f]{64}"/);
});

test('an API key finds its consumer (clear or hashed in config, hex in any case); another key finds none', () => {
  assert.equal(consumers.byApiKey('alice-key-0123456789')?.id, 'alice');
  assert.equal(consumers.byApiKey('bob-key-0123456789ab')?.id, 'bob');
  assert.equal(consumers.byApiKey('alice-key-012345678'), undefined);
  assert.equal(consumers.byApiKey(''), undefined);
});

test('basic-auth needs the right user and password', () => {
  assert.deepEqual(consumers.byBasicAuth('alice', 'wonderland')?.groups, ['admins']);
  assert.equal(consumers.byBasicAuth('alice', 'Wonderland'), undefined);
  assert.equal(consumers.byBasicAuth('mallory', 'wonderland'), undefined);
});
