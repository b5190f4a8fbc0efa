// Test certificates made with openssl: a CA, a server certificate it signed for localhost and 127.0.0.1, and a
// client certificate (for servers that require one). EC keys: quick to make. Fails with what to install.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
}

/** Writes the files into `dir` and returns their paths. */
export function makeCertificates(dir: string): TestCertificates {
  const openssl = (...args: string[]) => {
    const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (run.error || run.status !== 0) assert.fail(`openssl ${args[0]} failed (these tests need openssl): ${run.error?.message ?? run.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Sluice Test CA');
  const sign = (name: string, subject: string, extensions: string) => {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    writeFileSync(join(dir, `${name}.cnf`), extensions);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.cnf`);
  };
  sign('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  sign('client', '/CN=sluice', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  const at = (file: string) => join(dir, file);
  return { ca: at('ca.crt'), cert: at('server.crt'), key: at('server.key'), clientCert: at('client.crt'), clientKey: at('client.key') };
}
