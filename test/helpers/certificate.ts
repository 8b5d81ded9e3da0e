import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';

/** Whether openssl is on PATH (the HTTPS tests are skipped without it). */
export const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

function openssl(args: readonly string[]): void {
  const made = spawnSync('openssl', args, { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
}

/**
 * A self-signed certificate for localhost and 127.0.0.1, valid one day (the recipe of
 * docs/tls.md), written as cert.pem and key.pem into `dir`.
 */
export function makeSelfSignedCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile };
}

/** A new P-256 key (PKCS#8, unencrypted) in `keyFile`, as openssl req arguments. */
const newKey = (keyFile: string) => [
  ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
  ...['-keyout', keyFile],
];

export interface PrivateCa {
  /** The CA's certificate: what peers trust (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** A server certificate for these IP addresses signed by the CA, valid one day. */
  issue(name: string, addresses: readonly string[]): { certFile: string; keyFile: string };
}

/** A private certificate authority (openssl), its files in `dir`. */
export function makePrivateCa(dir: string): PrivateCa {
  const caFile = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  // req -x509 marks it a CA (basicConstraints CA:TRUE, openssl.cnf's v3_ca).
  openssl([
    ...['req', '-x509', ...newKey(caKey), '-days', '1'],
    ...['-subj', '/CN=fedxray test CA', '-out', caFile],
  ]);
  return {
    caFile,
    issue(name, addresses) {
      const base = join(dir, name);
      const [certFile, keyFile] = [`${base}.crt`, `${base}.key`];
      const extensions = `${base}.ext`;
      writeFileSync(
        extensions,
        [
          `subjectAltName=${addresses.map((address) => `IP:${address}`).join(',')}`,
          'basicConstraints=CA:FALSE',
          'extendedKeyUsage=serverAuth',
        ].join('\n'),
      );
      openssl(['req', ...newKey(keyFile), '-subj', `/CN=${name}`, '-out', `${base}.csr`]);
      openssl([
        ...['x509', '-req', '-in', `${base}.csr`, '-days', '1'],
        ...['-CA', caFile, '-CAkey', caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`],
        ...['-extfile', extensions, '-out', certFile],
      ]);
      return { certFile, keyFile };
    },
  };
}

/**
 * A fetch for the test process that trusts the CA in `caFile` and no other (over node:https:
 * Node's global fetch takes no CA of its own, and NODE_EXTRA_CA_CERTS is read at start only).
 * Bodies are buffered: for small JSON and form requests.
 */
export function fetchTrusting(caFile: string): typeof fetch {
  const agent = new Agent({ ca: readFileSync(caFile) });
  return async (input, init) => {
    const asked = new Request(input, init);
    const body = asked.body ? Buffer.from(await asked.arrayBuffer()) : undefined;
    return new Promise<Response>((resolve, reject) => {
      const headers = Object.fromEntries(asked.headers);
      const options = { method: asked.method, headers, agent, signal: asked.signal };
      const req = request(asked.url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 502;
          const answer = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            for (const one of [value ?? []].flat()) answer.append(key, one);
          }
          const content = [204, 304].includes(status) ? null : Buffer.concat(chunks);
          resolve(new Response(content, { status, headers: answer }));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}
