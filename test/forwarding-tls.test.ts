// HTTPS upstreams: certificates are verified by default, upstreams[].tls.ca adds a trust anchor, serverName picks
// the name checked (and sent as SNI), insecureSkipVerify turns checking off. The client's Host header never decides
// which name is verified. A throwaway CA and server certificate are made with the openssl CLI in a temp dir.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { makeCertificates } from './helpers/certs.ts';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

describe('HTTPS upstreams', () => {
  let dir: string;
  let ca: string;
  let server: https.Server;
  let port: number;
  /** SNI names of the TLS connections the upstream accepted, in order ('' = none sent). */
  const handshakes: string[] = [];
  const gateways: TestGateway[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
    const files = makeCertificates(dir);
    ca = files.ca;
    server = https.createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (req, res) => {
      res.end(`secure ${(req.socket as TLSSocket).servername || ''}`);
    });
    server.on('secureConnection', (socket: TLSSocket) => handshakes.push(socket.servername || ''));
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await Promise.all(gateways.map((gw) => gw.close()));
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function gatewayFor(host: string, tls: Record<string, unknown> = {}, route: Record<string, unknown> = {}): Promise<TestGateway> {
    const gw = await startGateway(simpleConfig([`https://${host}:${port}`], route, { tls: { ...tls, ...(tls.ca === true ? { ca } : {}) } }));
    gateways.push(gw);
    return gw;
  }

  test('verification is on by default: an unknown CA is a 502 upstream_tls_error', async () => {
    const gw = await gatewayFor('127.0.0.1');
    const res = await get(gw.port);
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-sluice-error'], 'upstream_tls_error');
    assert.doesNotMatch(res.body, /certificate|self.signed|verify/i, 'no upstream internals in the body');
  });

  test('tls.ca trusts the CA: an IP target is checked against the IP, without SNI', async () => {
    const gw = await gatewayFor('127.0.0.1', { ca: true });
    const res = await get(gw.port);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'secure ');
  });

  test('tls.ca with a host-name target: SNI and the check use that name', async () => {
    const gw = await gatewayFor('localhost', { ca: true });
    const res = await get(gw.port);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'secure localhost');
  });

  test("the client's Host header does not choose the TLS name, nor churn connections", async () => {
    const gw = await gatewayFor('localhost', { ca: true });
    const before = handshakes.length;
    for (const host of ['shop.example', 'evil.example', 'localhost:1', 'api.example']) {
      const res = await get(gw.port, { host });
      assert.equal(res.status, 200, `${host}: ${res.body}`);
      assert.equal(res.body, 'secure localhost');
    }
    assert.deepEqual(handshakes.slice(before), ['localhost'], 'one TLS connection, reused');
  });

  test('tls.serverName that the certificate does not carry: 502 upstream_tls_error', async () => {
    const gw = await gatewayFor('127.0.0.1', { ca: true, serverName: 'other.example' });
    const res = await get(gw.port);
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-sluice-error'], 'upstream_tls_error');
  });

  test('tls.serverName that the certificate carries: 200, sent as SNI', async () => {
    const gw = await gatewayFor('127.0.0.1', { ca: true, serverName: 'localhost' });
    const res = await get(gw.port);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'secure localhost');
  });

  test('insecureSkipVerify accepts the unknown CA', async () => {
    const gw = await gatewayFor('127.0.0.1', { insecureSkipVerify: true });
    const res = await get(gw.port);
    assert.equal(res.status, 200, res.body);
  });

  test('hostHeader: target sends the target authority to an HTTPS upstream', async () => {
    const gw = await gatewayFor('localhost', { ca: true }, { hostHeader: 'target' });
    const res = await get(gw.port, { host: 'public.example' });
    assert.equal(res.status, 200, res.body);
  });
});
