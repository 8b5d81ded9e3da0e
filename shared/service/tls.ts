import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { Type } from '@sinclair/typebox';
import { ConfigError } from './config.ts';

/**
 * HTTPS for every fedxray service: a PEM certificate (chain) and its private key, read from
 * files at start. Both or neither: without them a service answers plain HTTP. See docs/tls.md.
 */
export const TLS_ENV = { tlsCertFile: 'TLS_CERT_FILE', tlsKeyFile: 'TLS_KEY_FILE' } as const;

/** The two config fields, spread into each service's config schema. */
export const TlsConfigFields = {
  /** PEM certificate (leaf first, then any intermediates); set together with tlsKeyFile. */
  tlsCertFile: Type.Optional(Type.String({ minLength: 1 })),
  /** PEM private key of that certificate (unencrypted); set together with tlsCertFile. */
  tlsKeyFile: Type.Optional(Type.String({ minLength: 1 })),
};

export interface TlsFiles {
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

/** What fastify's `https` option takes. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

/** The configuration problem when only one of the two files is given (for loadConfig's check). */
export function tlsPairProblems(files: TlsFiles): string[] {
  const cert = files.tlsCertFile !== undefined;
  const key = files.tlsKeyFile !== undefined;
  if (cert === key) return [];
  const [set, unset] = cert
    ? [TLS_ENV.tlsCertFile, TLS_ENV.tlsKeyFile]
    : [TLS_ENV.tlsKeyFile, TLS_ENV.tlsCertFile];
  return [
    `${TLS_ENV.tlsCertFile} and ${TLS_ENV.tlsKeyFile} must be set together (${set} is set, ${unset} is not)`,
  ];
}

async function readPem(variable: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`${variable}: cannot read ${path} (${reason})`);
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads and checks the certificate and key: undefined when neither is configured; a
 * ConfigError naming the variable and the path when one is missing, unreadable, not PEM, or
 * when the key does not belong to the certificate.
 */
export async function loadTlsCredentials(files: TlsFiles): Promise<TlsCredentials | undefined> {
  const problems = tlsPairProblems(files);
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = files;
  if (certFile === undefined || keyFile === undefined) return undefined;

  const cert = await readPem(TLS_ENV.tlsCertFile, certFile);
  const key = await readPem(TLS_ENV.tlsKeyFile, keyFile);
  let certificate: X509Certificate;
  try {
    if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no BEGIN CERTIFICATE');
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(
      `${TLS_ENV.tlsCertFile}: ${certFile} is not a PEM certificate (${reason(error)})`,
    );
  }
  let privateKey: KeyObject;
  try {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) {
      throw new Error('no BEGIN PRIVATE KEY');
    }
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new ConfigError(
      `${TLS_ENV.tlsKeyFile}: ${keyFile} is not an unencrypted PEM private key (${reason(error)})`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      `${TLS_ENV.tlsKeyFile}: the key in ${keyFile} does not belong to the certificate in ${certFile}`,
    );
  }
  try {
    // What the https server will do with them: catches the rest (a broken chain after the leaf).
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError(
      `${TLS_ENV.tlsCertFile}/${TLS_ENV.tlsKeyFile}: ${certFile} and ${keyFile} are not a usable certificate and key (${reason(error)})`,
    );
  }
  return { cert, key };
}
