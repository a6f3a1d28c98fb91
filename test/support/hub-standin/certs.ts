// A throw-away certificate authority for the stand-in: one CA and one server certificate for
// localhost / 127.0.0.1 signed by it, made with openssl at start (node:crypto cannot issue X.509).
// Clients trust the CA through the device SDK's `ca` option or NODE_EXTRA_CA_CERTS.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StandinCerts {
  /** PEM of the CA clients must trust */
  ca: string;
  /** path of the same PEM, for NODE_EXTRA_CA_CERTS */
  caFile: string;
  key: string;
  cert: string;
}

export function makeCerts(dir: string): StandinCerts {
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', p('ca-key.pem'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=Lighter IoT Hub stand-in CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...ec, '-keyout', p('server-key.pem'), '-out', p('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca-key.pem'), '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('server.ext'));
  return { ca: readFileSync(p('ca.pem'), 'utf8'), caFile: p('ca.pem'), key: readFileSync(p('server-key.pem'), 'utf8'), cert: readFileSync(p('server.pem'), 'utf8') };
}
