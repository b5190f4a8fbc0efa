// sluice-plugin-hello: the example plugin of docs/plugins.md. It shows each part of the plugin API once:
// a config schema (zod), the onion handler (answer early, or change the upstream request and go on), a response
// hook, a log hook, a metric and the per-request logger.
import { z } from 'zod';
import type { Plugin } from 'sluice/plugin';

const schema = z.object({
  /** The word the greeting starts with. */
  greeting: z.string().min(1).default('Hello'),
  /** Requests to this path are answered by the plugin itself; the rest go on upstream with an x-greeting header. */
  answer: z.string().startsWith('/').default('/hello'),
});

export type HelloConfig = z.output<typeof schema>;

export default {
  name: 'hello',
  schema,
  create(config, env) {
    const answered = env.metrics.counter('hello_answered_total', 'Requests the hello plugin answered itself.');
    return {
      async handle(ctx, next) {
        // Who to greet: the authenticated consumer if there is one, else ?name=, else the world.
        const who = ctx.consumer?.id ?? ctx.request.query.get('name') ?? 'world';
        const message = `${config.greeting}, ${who}!`;
        if (ctx.request.path === config.answer) {
          answered.inc();
          ctx.respond(200, { message });
          return; // not calling next(): the request stops here
        }
        ctx.upstreamRequest.headers.set('x-greeting', message);
        ctx.state.set('hello.started', performance.now());
        await next();
      },
      onResponse(_ctx, response) {
        // Every response that went through this plugin says so, answered here or upstream.
        response.headers['x-hello'] = config.greeting;
      },
      onLog(ctx, entry) {
        if (entry.status >= 500) ctx.log.warn({ status: entry.status }, 'hello: the upstream failed a greeted request');
      },
    };
  },
} satisfies Plugin<HelloConfig>;
