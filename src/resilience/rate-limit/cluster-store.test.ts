import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, test } from 'node:test';
import { ClusterRateLimitStore, serveRateLimitTakes, type IpcChannel } from './cluster-store.ts';
import { LocalRateLimitStore } from './local-store.ts';
import { parseRate } from './rate.ts';
import type { StoreOutage } from './store.ts';
import { rateLimitStoreCases } from './store-cases.ts';

/** Two ends of an in-process channel that behaves like IPC: messages are copied and arrive on a later turn. */
function channelPair(): { primary: IpcChannel & { sent: number; mute: boolean }; worker: IpcChannel & { sent: number } } {
  const primaryEnd = new EventEmitter();
  const workerEnd = new EventEmitter();
  const end = (self: EventEmitter, peer: EventEmitter) => {
    const channel = {
      sent: 0,
      mute: false,
      send(message: unknown, callback: (error: Error | null) => void) {
        channel.sent++;
        if (channel.mute) return true;
        const copy = structuredClone(message);
        setImmediate(() => {
          peer.emit('message', copy);
          callback(null);
        });
        return true;
      },
      on: (event: 'message', listener: (m: unknown) => void) => self.on(event, listener),
      off: (event: 'message', listener: (m: unknown) => void) => self.off(event, listener),
    };
    return channel;
  };
  return { primary: end(primaryEnd, workerEnd), worker: end(workerEnd, primaryEnd) };
}

describe('ClusterRateLimitStore: common cases', () => {
  const { primary, worker } = channelPair();
  const buckets = new LocalRateLimitStore();
  const stop = serveRateLimitTakes(primary, buckets);
  const store = new ClusterRateLimitStore({ channel: worker });
  after(async () => {
    stop();
    await store.close();
    await buckets.close();
  });
  rateLimitStoreCases(() => store, 'cluster');
});

describe('ClusterRateLimitStore', () => {
  const rate = parseRate('10/s')!;

  test('takes made in one event-loop turn travel as one message', async () => {
    const { primary, worker } = channelPair();
    const buckets = new LocalRateLimitStore({ now: () => 0, sweepIntervalMs: 0 });
    serveRateLimitTakes(primary, buckets);
    const store = new ClusterRateLimitStore({ channel: worker });
    const decisions = await Promise.all(Array.from({ length: 50 }, () => store.take('k', rate, 20)));
    assert.equal(worker.sent, 1);
    assert.equal(primary.sent, 1);
    assert.equal(decisions.filter((d) => d.allowed).length, 20);
    assert.deepEqual(decisions.slice(18, 21).map((d) => d.remaining), [1, 0, 0]);
    await store.close();
  });

  test('two workers share the primary\'s buckets exactly', async () => {
    const buckets = new LocalRateLimitStore({ now: () => 0, sweepIntervalMs: 0 }); // frozen clock: nothing refills
    const stores = [channelPair(), channelPair()].map(({ primary, worker }) => {
      serveRateLimitTakes(primary, buckets);
      return new ClusterRateLimitStore({ channel: worker });
    });
    let allowed = 0;
    for (let round = 0; round < 10; round++) {
      const batch = stores.flatMap((s) => Array.from({ length: 17 }, () => s.take('shared', rate, 100)));
      for (const d of await Promise.all(batch)) if (d.allowed) allowed++;
    }
    assert.equal(allowed, 100);
    await Promise.all(stores.map((s) => s.close()));
  });

  test('a primary that does not answer: the failure mode decides, the outage is reported once, then recovery', async () => {
    const { primary, worker } = channelPair();
    const buckets = new LocalRateLimitStore({ sweepIntervalMs: 0 });
    serveRateLimitTakes(primary, buckets);
    const events: StoreOutage[] = [];
    const store = new ClusterRateLimitStore({ channel: worker, failureMode: 'closed', timeoutMs: 30, onOutage: (e) => events.push(e) });
    primary.mute = true;
    const during = await Promise.all(Array.from({ length: 5 }, () => store.take('k', rate, 100)));
    const more = await store.take('k', rate, 100);
    assert.ok([...during, more].every((d) => !d.allowed && d.degraded === true));
    assert.deepEqual(events.map((e) => e.down), [true]);
    assert.match(events[0]!.error!, /did not answer within 30 ms/);
    primary.mute = false;
    const back = await store.take('k', rate, 100);
    assert.equal(back.allowed, true);
    assert.equal(back.degraded, undefined);
    assert.deepEqual(events.map((e) => [e.down, e.degradedRequests]), [[true, undefined], [false, 6]]);
    await store.close();
  });

  test('a closed channel fails the batch at once (fail open)', async () => {
    const channel: IpcChannel = {
      send: (_m, callback) => setImmediate(() => callback(new Error('channel closed'))),
      on: () => undefined,
      off: () => undefined,
    };
    const events: StoreOutage[] = [];
    const store = new ClusterRateLimitStore({ channel, failureMode: 'open', timeoutMs: 10_000, onOutage: (e) => events.push(e) });
    const d = await store.take('k', rate, 1);
    assert.equal(d.allowed, true);
    assert.equal(d.degraded, true);
    assert.equal(events.length, 1);
    await store.close();
  });

  test('without an IPC channel it refuses to start', () => {
    if (typeof process.send === 'function') return; // under a runner that forks with IPC this case cannot be shown
    assert.throws(() => new ClusterRateLimitStore(), /needs an IPC channel/);
  });
});
