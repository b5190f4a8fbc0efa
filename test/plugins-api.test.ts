// The plugin API end to end, through a real gateway and a real upstream: chain order (global → route → upstream,
// response hooks back out), what the context shows, early answers, upstream request and response changes, body
// transforms both ways, per-request state, failures isolated to their request (500 plugin_error, logged with the
// plugin's name), the logging hook, plugin metrics and spans, the init/dispose lifecycle across reloads, loading by path and
// by npm package, broken plugins refused on reload, upgrades going through the chain, and routes without plugins
// carrying none.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../src/config/schema.ts';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { client, closedUrl } from './helpers/misbehaving.ts';
import { captureLog, pluginEvents, pluginFiles } from './helpers/plugins.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

const files = pluginFiles();
cleanup.push(() => files.remove());

// A plugin that leaves its name on the way in (upstream header) and on the way out (response header).
const TAG = files.write('tag.ts', `
export default {
  name: 'tag',
  create(config: { name: string }) {
    return {
      handle(ctx, next) {
        ctx.upstreamRequest.headers.add('x-trail', config.name);
        return next();
      },
      onResponse(_ctx, response) {
        const seen = response.headers['x-out'];
        response.headers['x-out'] = seen === undefined ? config.name : seen + ',' + config.name;
      },
    };
  },
};
`);

let up: TestUpstream;
async function upstream(): Promise<TestUpstream> {
  if (up === undefined) {
    up = await startUpstream('app');
    cleanup.push(() => up.close());
  }
  return up;
}

async function gateway(config: ConfigInput, options: Parameters<typeof startGateway>[1] = {}): Promise<{ gw: TestGateway; http: ReturnType<typeof client> }> {
  const gw = await startGateway(config, options);
  const http = client(gw.url);
  cleanup.push(() => gw.close(), () => http.close());
  return { gw, http };
}

/** A one-route config whose route has these plugins. */
async function routeWith(plugins: unknown[], extra: Record<string, unknown> = {}, options: Parameters<typeof startGateway>[1] = {}) {
  const u = await upstream();
  return gateway({ ...simpleConfig([u.url], { plugins }), ...extra } as ConfigInput, options);
}

describe('the chain', () => {
  test('runs global, then route, then upstream plugins on the way in; response hooks run innermost first', async () => {
    const u = await upstream();
    const { http } = await gateway({
      plugins: [{ path: TAG, config: { name: 'global' } }],
      upstreams: [{ name: 'app', targets: [{ url: u.url }], plugins: [{ path: TAG, config: { name: 'upstream' } }] }],
      routes: [
        { name: 'tagged', match: { pathPrefix: '/tagged' }, upstream: 'app', plugins: [{ path: TAG, config: { name: 'route-1' } }, { path: TAG, config: { name: 'route-2' } }] },
        { name: 'plain', match: { pathPrefix: '/plain' }, upstream: 'app' },
      ],
    } as ConfigInput);
    const before = u.received.length;
    const tagged = await http.send('/tagged');
    assert.equal(tagged.status, 200);
    assert.equal(u.received[before]!.headers['x-trail'], 'global, route-1, route-2, upstream');
    assert.equal(tagged.headers['x-out'], 'upstream,route-2,route-1,global');
    const plain = await http.send('/plain');
    assert.equal(u.received[before + 1]!.headers['x-trail'], 'global, upstream', 'a route without plugins of its own still gets the global and upstream ones');
    assert.equal(plain.headers['x-out'], 'upstream,global');
  });

  test('a route without any plugin has no chain at all (the request path checks one field)', async () => {
    const u = await upstream();
    const { gw } = await gateway({
      ...simpleConfig([u.url]),
      consumers: [{ id: 'alice', keys: [{ key: 'alice-key-0123456789' }] }],
    } as ConfigInput);
    assert.equal(gw.gateway.current.routes[0]!.plugins, undefined);
    assert.equal(gw.gateway.current.plugins, undefined);
  });
});

describe('the context', () => {
  test('describes the request: method, url, path, query, headers, host, client, route, upstream, listener, id', async () => {
    const inspect = files.write('inspect.ts', `
export default {
  name: 'inspect',
  create: () => ({
    handle(ctx) {
      const r = ctx.request;
      ctx.respond(200, {
        method: r.method, url: r.url, path: r.path, search: r.search, a: r.query.get('a'), host: r.host,
        protocol: r.protocol, header: r.headers['x-h'], hasBody: r.hasBody, client: ctx.clientAddress,
        route: ctx.route, upstream: ctx.upstream, listener: ctx.listener, requestId: ctx.requestId,
        consumer: ctx.consumer ?? null, traceId: ctx.tracer.traceId,
      }, { 'x-trace': ctx.tracer.traceId });
    },
  }),
};
`);
    const { http } = await routeWith([{ path: inspect }]);
    const res = await http.send('/x/../items?a=1&b=2', { headers: { 'x-h': 'v', 'x-request-id': 'req-42', host: 'api.test' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['x-request-id'], 'req-42');
    assert.deepEqual(JSON.parse(res.body), {
      method: 'GET', url: '/items?a=1&b=2', path: '/items', search: 'a=1&b=2', a: '1', host: 'api.test', protocol: 'http',
      header: 'v', hasBody: false, client: '127.0.0.1', route: 'all', upstream: 'app', listener: 'test', requestId: 'req-42',
      consumer: null, traceId: res.headers['x-trace'] ?? '',
    });
  });

  test('an early answer skips the upstream and the plugins further in; those further out see it in onResponse', async () => {
    const deny = files.write('deny.mjs', `
export default {
  name: 'deny',
  create: () => ({ handle: (ctx) => ctx.respond(403, 'not today', { 'x-deny': 'yes' }) }),
};
`);
    const u = await upstream();
    const { http } = await routeWith([{ path: TAG, config: { name: 'outer' } }, { path: deny }, { path: TAG, config: { name: 'inner' } }]);
    const before = u.received.length;
    const res = await http.send('/');
    assert.equal(res.status, 403);
    assert.equal(res.body, 'not today');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['x-deny'], 'yes');
    assert.equal(res.headers['x-out'], 'outer', 'the outer plugin saw the answer, the inner one never ran');
    assert.ok(res.headers['x-request-id']);
    assert.equal(u.received.length, before);
  });

  test('changes the upstream path and headers; response headers it sets ride on any response, a 502 included', async () => {
    const rewrite = files.write('rewrite.ts', `
export default {
  name: 'rewrite',
  create: () => ({
    handle(ctx, next) {
      ctx.upstreamRequest.path = '/v2' + ctx.upstreamRequest.path;
      ctx.upstreamRequest.headers.set('x-added', 'yes');
      ctx.upstreamRequest.headers.delete('x-secret');
      ctx.response.headers.set('x-plugin', 'was-here');
      return next();
    },
  }),
};
`);
    const u = await upstream();
    const dead = await closedUrl();
    const { http } = await gateway({
      upstreams: [{ name: 'app', targets: [{ url: u.url }] }, { name: 'dead', targets: [{ url: dead }] }],
      routes: [
        { name: 'live', match: { pathPrefix: '/live' }, upstream: 'app', plugins: [{ path: rewrite }] },
        { name: 'down', match: { pathPrefix: '/down' }, upstream: 'dead', plugins: [{ path: rewrite }] },
      ],
    } as ConfigInput);
    const res = await http.send('/live/x?q=1', { headers: { 'x-secret': 's3cret' } });
    const seen = u.received.at(-1)!;
    assert.equal(seen.url, '/v2/live/x?q=1');
    assert.equal(seen.headers['x-added'], 'yes');
    assert.equal(seen.headers['x-secret'], undefined);
    assert.equal(res.headers['x-plugin'], 'was-here');
    const failed = await http.send('/down');
    assert.equal(failed.status, 502);
    assert.equal(failed.headers['x-plugin'], 'was-here');
  });

  test('transforms the request body and the response body as streams', async () => {
    const upper = files.write('upper.mjs', `
import { Transform } from 'node:stream';
// Upper-cases, and adds a "!" per chunk: the length changes, so the client's Content-Length cannot be kept.
const upper = () => new Transform({ transform(chunk, _enc, done) { done(null, chunk.toString().toUpperCase() + '!'); } });
export default {
  name: 'upper',
  create: () => ({
    handle(ctx, next) {
      ctx.request.transformBody(upper());
      return next();
    },
    onResponse(_ctx, response) {
      response.transformBody(upper());
    },
  }),
};
`);
    const u = await upstream();
    const { http } = await routeWith([{ path: upper }]);
    const res = await http.send('/', { method: 'POST', body: 'hello body', headers: { 'content-type': 'text/plain' } });
    const seen = u.received.at(-1)!;
    assert.equal(seen.body.toString(), 'HELLO BODY!');
    // Chunked, or (when the transform had finished before the request went out) the transformed length.
    assert.ok(seen.headers['content-length'] === undefined || seen.headers['content-length'] === '11', String(seen.headers['content-length']));
    assert.equal(res.status, 200);
    assert.equal(res.body, 'APP!');
    assert.equal(res.headers['content-length'], undefined);
  });

  test('readBody() gives the whole body and the same bytes go upstream; a larger body gets 413', async () => {
    const read = files.write('read.mjs', `
export default {
  name: 'read',
  create: () => ({
    async handle(ctx, next) {
      const body = await ctx.request.readBody(32);
      const parsed = JSON.parse(body.toString());
      ctx.upstreamRequest.headers.set('x-kind', String(parsed.kind));
      await next();
    },
  }),
};
`);
    const u = await upstream();
    const { http } = await routeWith([{ path: read }]);
    const body = JSON.stringify({ kind: 'order' });
    const res = await http.send('/', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    const seen = u.received.at(-1)!;
    assert.equal(seen.body.toString(), body);
    assert.equal(seen.headers['x-kind'], 'order');
    const big = await http.send('/', { method: 'POST', body: JSON.stringify({ kind: 'x'.repeat(100) }), fresh: true });
    assert.equal(big.status, 413);
    assert.equal(big.headers['x-sluice-error'], 'payload_too_large');
  });

  test('state is shared by the plugins of one request, never between requests', async () => {
    const writer = files.write('writer.mjs', `
let n = 0;
export default { name: 'writer', create: () => ({ handle(ctx, next) { ctx.state.set('n', ++n); return next(); } }) };
`);
    const reader = files.write('reader.mjs', `
export default { name: 'reader', create: () => ({ handle(ctx) { ctx.respond(200, { n: ctx.state.get('n'), other: ctx.state.get('other') ?? null }); } }) };
`);
    const { http } = await routeWith([{ path: writer }, { path: reader }]);
    assert.deepEqual(JSON.parse((await http.send('/')).body), { n: 1, other: null });
    assert.deepEqual(JSON.parse((await http.send('/')).body), { n: 2, other: null });
  });
});

describe('failures', () => {
  test('a plugin that throws fails only that request: 500 plugin_error, logged with the plugin name', async () => {
    const faulty = files.write('faulty.ts', `
export default {
  name: 'faulty',
  create: () => ({
    async handle(ctx, next) {
      if (ctx.request.path === '/sync') (null as unknown as { x: number }).x;
      if (ctx.request.path === '/async') { await Promise.resolve(); throw new Error('async boom'); }
      if (ctx.request.path === '/forgot') return;
      await next();
    },
    onResponse(ctx) {
      if (ctx.request.path === '/late') throw new Error('late boom');
    },
  }),
};
`);
    const captured = captureLog();
    const { http } = await routeWith([{ path: TAG, config: { name: 'outer' } }, { path: faulty }], {}, { log: captured.log });
    for (const path of ['/sync', '/async', '/forgot', '/late']) {
      const res = await http.send(path);
      assert.equal(res.status, 500, path);
      assert.equal(res.headers['x-sluice-error'], 'plugin_error', path);
      assert.match(res.body, /"code":"plugin_error"/);
    }
    assert.equal((await http.send('/fine')).status, 200, 'the next request is unaffected');
    const failures = captured.entries().filter((e) => /plugin failed/.test(String(e.msg)));
    assert.equal(failures.length, 4);
    assert.ok(failures.every((e) => e.plugin === 'faulty' && e.route === 'all' && typeof e.requestId === 'string'), JSON.stringify(failures));
    assert.match(JSON.stringify(failures[1]!.err), /async boom/);
    assert.match(String(failures[2]!.err && JSON.stringify(failures[2]!.err)), /returned without calling next/);
  });

  test('onLog runs once the response is over, after the log line, with the status', async () => {
    const logs = pluginEvents('plugins-api.onLog');
    const logger = files.write('logger.mjs', `
export default {
  name: 'logger',
  create: () => ({ onLog(ctx, entry) { globalThis['plugins-api.onLog'].push(ctx.request.path + ' ' + entry.status + ' ' + (entry.errorCode ?? '-') + ' ' + (entry.durationMs >= 0)); } }),
};
`);
    const { http } = await routeWith([{ path: logger }, { 'static-response': { status: 404, body: 'nope' } }]);
    await http.send('/a');
    await waitUntil(() => logs.length === 1);
    assert.deepEqual(logs, ['/a 404 - true']);
  });

  test('counters and histograms a plugin makes are exported with Sluice\'s metrics', async () => {
    const counting = files.write('counting.mjs', `
export default {
  name: 'counting',
  create(_config, env) {
    const hits = env.metrics.counter('test_hits_total', 'Requests the test plugin saw.', ['method']);
    const sizes = env.metrics.histogram('test_path_length', 'Path lengths.', [], [1, 10, 100]);
    return { handle(ctx, next) { hits.inc([ctx.request.method]); sizes.observe(ctx.request.path.length); return next(); } };
  },
};
`);
    const { gw, http } = await routeWith([{ path: counting }]);
    await http.send('/abc');
    await http.send('/abc', { method: 'HEAD' });
    const text = await gw.gateway.observability!.metrics.render(false);
    assert.match(text, /sluice_plugin_test_hits_total\{method="GET"\} 1/);
    assert.match(text, /sluice_plugin_test_hits_total\{method="HEAD"\} 1/);
    assert.match(text, /sluice_plugin_test_path_length_bucket\{le="10"\} 2/);
  });
});

describe('tracing', () => {
  test('a plugin\'s spans and attributes join the request\'s trace', async () => {
    const traced = files.write('traced.mjs', `
export default {
  name: 'traced',
  create: () => ({
    async handle(ctx, next) {
      const end = ctx.tracer.startSpan('plugin.lookup', { 'lookup.table': 'users' });
      await new Promise((resolve) => setTimeout(resolve, 5));
      end({ 'lookup.hit': true });
      ctx.tracer.setAttribute('plugin.traced', 'yes');
      ctx.response.headers.set('x-trace-id', ctx.tracer.traceId);
      await next();
    },
  }),
};
`);
    const u = await upstream();
    const { gw, http } = await gateway({
      ...simpleConfig([u.url], { plugins: [{ path: traced }], tracing: { sampler: 'always' } }),
    } as ConfigInput);
    const res = await http.send('/');
    const traceId = res.headers['x-trace-id'] as string;
    assert.match(traceId, /^[0-9a-f]{32}$/);
    const traces = gw.gateway.observability!.traces;
    const detail = await waitFor(() => traces.get(traceId));
    const span = detail.spans.find((s) => s.name === 'plugin.lookup');
    const server = detail.spans.find((s) => s.kind === 'server')!;
    assert.ok(span, JSON.stringify(detail.spans.map((s) => s.name)));
    assert.equal(span.parentSpanId, server.spanId);
    assert.deepEqual([span.attributes['lookup.table'], span.attributes['lookup.hit']], ['users', true]);
    assert.ok(span.durationMs >= 4, String(span.durationMs));
    assert.equal(server.attributes['plugin.traced'], 'yes');
  });
});

describe('lifecycle and loading', () => {
  const LIFE = files.write('life.mjs', `
export default {
  name: 'life',
  create(config) {
    const events = globalThis['plugins-api.life'];
    return {
      init() { events.push('init ' + config.tag); if (config.tag === 'bad-init') throw new Error('cannot connect'); },
      handle(ctx, next) { ctx.response.headers.set('x-life', config.tag); return next(); },
      dispose() { events.push('dispose ' + config.tag); },
    };
  },
};
`);

  test('an unchanged instance survives reloads; a changed one is new and the old one is disposed; close disposes the rest', async () => {
    const events = pluginEvents('plugins-api.life');
    const u = await upstream();
    const config = (tag: string) => ({ ...simpleConfig([u.url], { plugins: [{ path: LIFE, config: { tag } }] }) }) as ConfigInput;
    const gw = await startGateway(config('one'));
    const http = client(gw.url);
    cleanup.push(() => http.close());
    assert.equal((await http.send('/')).headers['x-life'], 'one');
    await gw.apply(config('one'));
    await gw.apply({ ...config('one'), server: { requestIdHeader: 'x-req' } } as ConfigInput);
    assert.deepEqual(events, ['init one'], 'reloads that keep its settings keep the instance');
    await gw.apply(config('two'));
    assert.equal((await http.send('/')).headers['x-life'], 'two');
    await waitUntil(() => events.includes('dispose one'));
    assert.deepEqual(events, ['init one', 'init two', 'dispose one']);
    await assert.rejects(gw.apply(config('bad-init')), /routes\[0\]\.plugins\[0\]: plugin "life": init failed: cannot connect/);
    await waitUntil(() => events.includes('dispose bad-init'));
    assert.equal((await http.send('/')).headers['x-life'], 'two', 'the running config keeps serving');
    await gw.close();
    assert.deepEqual(events, ['init one', 'init two', 'dispose one', 'init bad-init', 'dispose bad-init', 'dispose two']);
  });

  test('a reload with a broken plugin is refused with the entry\'s path and the reason; the last good config serves', async () => {
    const u = await upstream();
    const { gw, http } = await routeWith([{ path: TAG, config: { name: 'good' } }]);
    const broken = files.write('broken.ts', 'export default { name: "broken", create( };\n');
    const notAPlugin = files.write('not-a-plugin.mjs', 'export const hello = 1;\n');
    const strict = files.write('strict.mjs', `
export default {
  name: 'strict',
  schema: { '~standard': { version: 1, vendor: 'test', validate: (v) => typeof v.limit === 'number' ? { value: v } : { issues: [{ message: 'limit must be a number', path: ['limit'] }] } } },
  create: () => ({}),
};
`);
    const attempt = (plugins: unknown[]) => gw.apply({ ...simpleConfig([u.url], { plugins }) } as ConfigInput);
    await assert.rejects(attempt([{ path: broken }]), (err: Error) => err.message.startsWith('routes[0].plugins[0]: cannot load ') && err.message.includes(broken));
    await assert.rejects(attempt([{ path: notAPlugin }]), /does not export a plugin: expected `export default \{ name/);
    await assert.rejects(attempt([{ path: join(files.dir, 'missing.ts') }]), /routes\[0\]\.plugins\[0\]: no such file .*missing\.ts/);
    await assert.rejects(attempt([{ path: strict, config: { limit: 'ten' } }]), /routes\[0\]\.plugins\[0\]\.config\.limit: limit must be a number \(plugin "strict"/);
    await assert.rejects(
      attempt([{ path: broken }, { path: TAG, config: { name: 'x' } }, { path: notAPlugin }]),
      (err: Error) => err.message.startsWith('2 plugins could not be set up:') && err.message.includes('routes[0].plugins[2]'),
    );
    const res = await http.send('/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-out'], 'good');
  });

  test('a plugin file that changed is loaded again on reload', async () => {
    const u = await upstream();
    const file = files.write('versioned.mjs', "export default { name: 'v', create: () => ({ handle(ctx, next) { ctx.response.headers.set('x-v', '1'); return next(); } }) };\n");
    const config = { ...simpleConfig([u.url], { plugins: [{ path: file }] }) } as ConfigInput;
    const { gw, http } = await gateway(config);
    assert.equal((await http.send('/')).headers['x-v'], '1');
    // A different modification time, however fast the file system's clock ticks.
    writeFileSync(file, "export default { name: 'v', create: () => ({ handle(ctx, next) { ctx.response.headers.set('x-v', '2'); return next(); } }) };\n");
    const { utimesSync } = await import('node:fs');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await gw.apply(config);
    assert.equal((await http.send('/')).headers['x-v'], '2');
  });

  test('an npm package is found by name in node_modules beside the config (`from`)', async () => {
    const project = pluginFiles('sluice-project-');
    cleanup.push(() => project.remove());
    const pkg = join(project.dir, 'node_modules', '@acme', 'sluice-plugin-tag');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/sluice-plugin-tag', type: 'module', exports: { '.': { import: './main.js', require: './main.cjs' } } }));
    writeFileSync(join(pkg, 'main.js'), "export default { name: 'acme-tag', create: (c) => ({ handle(ctx, next) { ctx.upstreamRequest.headers.set('x-acme', c.value); return next(); } }) };\n");
    // A package linked in by path (npm install ../plugin) is a symlink: the example, TypeScript and all.
    symlinkSync(fileURLToPath(new URL('../examples/plugin-hello', import.meta.url)), join(project.dir, 'node_modules', 'sluice-plugin-hello'));
    const u = await upstream();
    const { http } = await routeWith([
      { package: '@acme/sluice-plugin-tag', from: project.dir, config: { value: 'acme' } },
      { package: 'sluice-plugin-hello', from: project.dir, config: { greeting: 'Hey' } },
    ]);
    const res = await http.send('/somewhere');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-hello'], 'Hey');
    assert.equal(u.received.at(-1)!.headers['x-acme'], 'acme');
    assert.equal(u.received.at(-1)!.headers['x-greeting'], 'Hey, world!');
    const gw2 = startGateway({ ...simpleConfig([u.url], { plugins: [{ package: 'sluice-plugin-missing', from: project.dir }] }) } as ConfigInput);
    await assert.rejects(gw2, /cannot find package "sluice-plugin-missing" in node_modules of .* or above; install it there/);
  });
});

describe('upgrades', () => {
  test('an upgrade request goes through the route\'s plugins: refused without credentials, tunnelled with them', async () => {
    const ws = http.createServer((_req, res) => res.end('plain'));
    ws.on('upgrade', (req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: upgrade\r\nx-greeting: ${req.headers['x-greeting'] ?? ''}\r\n\r\n`);
      socket.pipe(socket);
    });
    ws.listen(0, '127.0.0.1');
    await once(ws, 'listening');
    cleanup.push(() => new Promise<void>((resolve) => ws.close(() => resolve())), () => ws.closeAllConnections());
    const hello = fileURLToPath(new URL('../examples/plugin-hello/index.ts', import.meta.url));
    const { gw } = await gateway({
      ...simpleConfig([`http://127.0.0.1:${(ws.address() as net.AddressInfo).port}`], { plugins: [{ 'key-auth': {} }, { path: hello }] }),
      consumers: [{ id: 'alice', keys: [{ key: 'alice-key-0123456789' }] }],
    } as ConfigInput);
    const upgrade = (headers: string) => rawExchange(gw.port, `GET /chat HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: echo\r\n${headers}\r\n`);
    const refused = await upgrade('');
    assert.match(refused, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    assert.match(refused, /x-sluice-error: unauthorized\r\n/);
    assert.match(refused, /connection: close\r\n/);
    const tunnelled = await upgrade('x-api-key: alice-key-0123456789\r\n');
    assert.match(tunnelled, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(tunnelled, /x-greeting: Hello, alice!\r\n/);
  });
});

/** Sends bytes, returns what came back until the server closed or 1 s of quiet after the first bytes. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    let quiet: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(quiet);
      clearTimeout(limit);
      socket.destroy();
      resolve(text);
    };
    const limit = setTimeout(done, 5000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      clearTimeout(quiet);
      if (text.includes('\r\n\r\n')) quiet = setTimeout(done, 200);
    });
    socket.on('close', done);
    socket.on('error', reject);
  });
}

async function waitFor<T>(get: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('nothing came in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function waitUntil(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
