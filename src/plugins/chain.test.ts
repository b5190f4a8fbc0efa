// The onion dispatcher on its own: order in and out, synchronous chains stay synchronous, next() twice is an
// error, a failure is tagged with the plugin that threw (not the one awaiting it), an answer stops the chain.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { PluginContext, PluginInstance } from './api.ts';
import { ChainLink, PluginChain, PluginError, dispatch, type ChainState } from './chain.ts';
import { NO_CONSUMERS } from './consumers.ts';
import { PluginMetricsRegistry } from './metrics.ts';

const log = pino({ level: 'silent' });

function chainOf(...instances: Array<[string, PluginInstance]>): PluginChain {
  return new PluginChain(instances.map(([name, i]) => new ChainLink(name, i, log)), NO_CONSUMERS, log, new PluginMetricsRegistry());
}

/** Just what dispatch reads and writes; the rest of the context is not needed here. */
function stateFor(chain: PluginChain): ChainState & { answer(): void } {
  let answered = false;
  return {
    chain,
    index: -1,
    passed: false,
    get answered() {
      return answered;
    },
    answer() {
      answered = true;
    },
  } as unknown as ChainState & { answer(): void };
}

describe('dispatch', () => {
  test('runs in chain order on the way in and in reverse on the way out', async () => {
    const seen: string[] = [];
    const step = (name: string): PluginInstance => ({
      async handle(_ctx, next) {
        seen.push(`${name} in`);
        await next();
        seen.push(`${name} out`);
      },
    });
    const ctx = stateFor(chainOf(['a', step('a')], ['b', step('b')], ['c', step('c')]));
    await dispatch(ctx, 0);
    assert.deepEqual(seen, ['a in', 'b in', 'c in', 'c out', 'b out', 'a out']);
    assert.equal(ctx.passed, true);
  });

  test('a chain of synchronous plugins finishes synchronously, with no promise', () => {
    const sync: PluginInstance = { handle: (_ctx, next) => next() };
    const ctx = stateFor(chainOf(['a', sync], ['b', {}], ['c', sync]));
    assert.equal(dispatch(ctx, 0), undefined);
    assert.equal(ctx.passed, true);
  });

  test('next() called twice is an error of the plugin that did it', () => {
    const twice: PluginInstance = {
      handle(_ctx, next) {
        void next();
        return next();
      },
    };
    const ctx = stateFor(chainOf(['ok', { handle: (_c, next) => next() }], ['twice', twice]));
    assert.throws(() => dispatch(ctx, 0), (err: unknown) => err instanceof PluginError && err.plugin === 'twice' && /more than once/.test(err.message));
  });

  test('a rejection is blamed on the plugin that threw, even when an outer one awaited it', async () => {
    const outer: PluginInstance = { handle: async (_ctx, next) => next() };
    const inner: PluginInstance = {
      async handle() {
        await Promise.resolve();
        throw new Error('boom');
      },
    };
    const ctx = stateFor(chainOf(['outer', outer], ['inner', inner]));
    await assert.rejects(Promise.resolve(dispatch(ctx, 0)), (err: unknown) => err instanceof PluginError && err.plugin === 'inner' && (err.cause as Error).message === 'boom');
  });

  test('once a plugin has answered, nothing further in runs', async () => {
    let reached = false;
    const ctx = stateFor(chainOf(
      ['answers', { handle: (c, next) => ((c as unknown as { answer(): void }).answer(), next()) }],
      ['never', { handle: () => void (reached = true) }],
    ));
    await dispatch(ctx, 0);
    assert.equal(reached, false);
    assert.equal(ctx.passed, false);
  });

  test('a plugin that stops without next() leaves the request neither passed nor answered', () => {
    const ctx = stateFor(chainOf(['stops', { handle: () => {} }]));
    dispatch(ctx, 0);
    assert.equal(ctx.passed, false);
    assert.equal((ctx as PluginContext).answered, false);
  });
});
