/**
 * A certificate authority of its own and a server certificate it signed, for 127.0.0.1 and
 * localhost, made with `openssl` (scripts/test.sh installs it) in a temp folder. A client trusts the
 * server by trusting the CA: `ca` in Node's TLS options, or NODE_EXTRA_CA_CERTS for a process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  /** Paths of the CA's certificate, the server's certificate and the server's private key (PEM). */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA's certificate itself. */
  ca: string;
  /** Removes the folder. */
  remove(): void;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'parley-certs-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-new', ...EC_KEY, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=Parley test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-new', ...EC_KEY, '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(
    at('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-set_serial', '1', '-days', '2',
    '-extfile', at('server.ext'), '-out', at('server.pem'));
  return {
    caFile: at('ca.pem'),
    certFile: at('server.pem'),
    keyFile: at('server.key'),
    ca: readFileSync(at('ca.pem'), 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
