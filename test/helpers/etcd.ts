// A real etcd for tests: one member on free loopback ports (client and peer) with a temp data dir, killed by PID.
// It can be stopped and started again on the same ports and data, as an outage would. Tests fail with install
// instructions when etcd is missing (.ci/run installs it).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { waitFor } from './redis.ts';

const ETCD_BIN = process.env.ETCD_SERVER ?? 'etcd';

export function assertEtcdInstalled(): void {
  const probe = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    assert.fail(`${ETCD_BIN} is not installed: these tests need a real etcd (Debian/Ubuntu: apt-get install etcd-server), or set ETCD_SERVER to its path`);
  }
}

export interface EtcdTls {
  cert: string;
  key: string;
  /** Require client certificates signed by this CA. */
  clientCa?: string;
}

export class EtcdServer {
  readonly clientPort: number;
  readonly peerPort: number;
  readonly #dataDir: string;
  #child: ChildProcess | undefined;
  #output = '';

  /** Client TLS: etcd's certificate and key, and the CA it requires client certificates from (if any). */
  readonly #tls: EtcdTls | undefined;

  private constructor(clientPort: number, peerPort: number, tls: EtcdTls | undefined) {
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.#tls = tls;
    this.#dataDir = mkdtempSync(join(tmpdir(), 'sluice-etcd-'));
  }

  /** Starts a fresh etcd (serving clients over TLS when `tls` is given); call stop() in after(). */
  static async start(tls?: EtcdTls): Promise<EtcdServer> {
    assertEtcdInstalled();
    const server = new EtcdServer(await freePort(), await freePort(), tls);
    await server.resume();
    return server;
  }

  get url(): string {
    return `${this.#tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts etcd (again) on the same ports and data. */
  async resume(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      ETCD_BIN,
      [
        '--name', 'test',
        '--data-dir', this.#dataDir,
        '--listen-client-urls', this.url,
        '--advertise-client-urls', this.url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        ...(this.#tls === undefined
          ? []
          : ['--cert-file', this.#tls.cert, '--key-file', this.#tls.key, ...(this.#tls.clientCa === undefined ? [] : ['--client-cert-auth', '--trusted-ca-file', this.#tls.clientCa])]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    this.#output = '';
    const collect = (chunk: string) => (this.#output = (this.#output + chunk).slice(-20_000));
    child.stdout!.setEncoding('utf8').on('data', collect);
    child.stderr!.setEncoding('utf8').on('data', collect);
    const exited = new Promise<never>((_resolve, reject) =>
      child.once('exit', (code) => reject(new Error(`etcd exited (${code}) before it was ready:\n${this.#output}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitFor('etcd to serve client requests', () => this.#output.includes('ready to serve client requests'), 20_000), exited]);
  }

  /** SIGKILL, as a crash or a pulled cable would look to clients; the data dir stays for resume(). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await gone;
  }

  /** For after(): kill it and remove its data. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.#dataDir, { recursive: true, force: true });
  }
}
