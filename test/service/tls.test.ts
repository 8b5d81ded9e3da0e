import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAggregatorConfig } from '../../services/aggregator/config.ts';
import { loadHospitalConfig } from '../../services/hospital-node/config.ts';
import { buildApp, type InferenceApp } from '../../services/inference-api/app.ts';
import { readInferenceConfig, type InferenceConfig } from '../../services/inference-api/config.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { loadTlsCredentials } from '../../shared/service/tls.ts';
import { hasOpenssl, makeSelfSignedCertificate } from '../helpers/certificate.ts';
import { inferenceTestConfig } from '../inference-api/test-app.ts';

const root = new URL('../..', import.meta.url).pathname;
if (!hasOpenssl) console.warn('tls.test.ts: openssl is not on PATH; the HTTPS tests are skipped');

let dir: string;
let certFile: string;
let keyFile: string;

beforeAll(async () => {
  process.env.FEDXRAY_QUIET = '1';
  dir = await mkdtemp(join(tmpdir(), 'fedxray-tls-'));
  certFile = join(dir, 'cert.pem');
  keyFile = join(dir, 'key.pem');
  if (!hasOpenssl) return;
  ({ certFile, keyFile } = makeSelfSignedCertificate(dir));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An inference-api with no model to load: the cheapest service to build. */
function inferenceConfig(overrides: Partial<InferenceConfig> = {}): InferenceConfig {
  return inferenceTestConfig({
    aggregatorUrl: 'http://127.0.0.1:9',
    maxUploadBytes: 1024 * 1024,
    ...overrides,
  });
}

type Outcome = { status: number; body: string } | { error: string };

/** GET with node:http or node:https; network errors are an outcome, not a rejection. */
function get(url: string, options: https.RequestOptions = {}): Promise<Outcome> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve) => {
    const req = client.get(url, { ...options, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error) => resolve({ error: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ error: error.code ?? error.message }),
    );
  });
}

/** Runs `node -e code` with the given environment; resolves its exit code and output. */
function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('TLS configuration', () => {
  it('takes TLS_CERT_FILE and TLS_KEY_FILE together, in every service', () => {
    const tls = { TLS_CERT_FILE: '/etc/fedxray/cert.pem', TLS_KEY_FILE: '/etc/fedxray/key.pem' };
    expect(readInferenceConfig({ MODEL_DIR: '/m', ...tls })).toMatchObject({
      tlsCertFile: '/etc/fedxray/cert.pem',
      tlsKeyFile: '/etc/fedxray/key.pem',
    });
    expect(loadAggregatorConfig(tls)).toMatchObject({ tlsCertFile: '/etc/fedxray/cert.pem' });
    const hospital = {
      HOSPITAL_ID: 'h',
      DATA_DIR: '/d',
      AGGREGATOR_URL: 'https://aggregator.example:3000',
      HOSPITAL_TOKEN: 'token-0123456789abcdef',
    };
    expect(loadHospitalConfig({ ...hospital, ...tls })).toMatchObject({
      tlsKeyFile: '/etc/fedxray/key.pem',
    });
    // Neither: plain HTTP, and the config has no TLS fields.
    expect(readInferenceConfig({ MODEL_DIR: '/m' })).not.toHaveProperty('tlsCertFile');
  });

  it('refuses one variable without the other, naming both', () => {
    const both = /TLS_CERT_FILE and TLS_KEY_FILE must be set together/;
    expect(() => readInferenceConfig({ MODEL_DIR: '/m', TLS_CERT_FILE: '/c.pem' })).toThrow(
      ConfigError,
    );
    expect(() => readInferenceConfig({ MODEL_DIR: '/m', TLS_CERT_FILE: '/c.pem' })).toThrow(
      /TLS_CERT_FILE and TLS_KEY_FILE must be set together \(TLS_CERT_FILE is set, TLS_KEY_FILE is not\)/,
    );
    expect(() => loadAggregatorConfig({ TLS_KEY_FILE: '/k.pem' })).toThrow(
      /TLS_CERT_FILE and TLS_KEY_FILE must be set together \(TLS_KEY_FILE is set, TLS_CERT_FILE is not\)/,
    );
    expect(() => loadHospitalConfig({ TLS_CERT_FILE: '/c.pem' })).toThrow(both);
    // Reported with the other problems, not instead of them.
    expect(() => loadHospitalConfig({ TLS_CERT_FILE: '/c.pem' })).toThrow(/HOSPITAL_ID/);
    // A config built in code is checked by buildApp.
    return expect(
      buildApp(inferenceConfig({ tlsKeyFile: '/k.pem' }), { logger: false }),
    ).rejects.toThrow(both);
  });

  it('fails at start naming a missing file', async () => {
    const missing = join(dir, 'missing-cert.pem');
    const error = await buildApp(
      inferenceConfig({ tlsCertFile: missing, tlsKeyFile: join(dir, 'key.pem') }),
      { logger: false },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`TLS_CERT_FILE: cannot read ${missing} (ENOENT)`);
    await expect(
      loadTlsCredentials({ tlsCertFile: certFile, tlsKeyFile: join(dir, 'nokey.pem') }),
    ).rejects.toThrow(`TLS_KEY_FILE: cannot read ${join(dir, 'nokey.pem')} (ENOENT)`);
  });

  it('prints the error without a stack trace when the service starts from main.ts', async () => {
    const missing = join(dir, 'missing-cert.pem');
    const { code, output } = await runNode(['--import', 'tsx', 'services/inference-api/main.ts'], {
      ...process.env,
      MODEL_DIR: dir,
      TLS_CERT_FILE: missing,
      TLS_KEY_FILE: join(dir, 'key.pem'),
    });
    expect(code).toBe(1);
    expect(output.trim()).toBe(`TLS_CERT_FILE: cannot read ${missing} (ENOENT)`);
  });
});

describe.skipIf(!hasOpenssl)(
  hasOpenssl ? 'HTTPS with a self-signed certificate' : 'HTTPS (skipped: openssl is not on PATH)',
  () => {
    let app: InferenceApp;
    let url: string;
    let cert: Buffer;

    beforeAll(async () => {
      cert = await readFile(certFile);
      app = await buildApp(inferenceConfig({ tlsCertFile: certFile, tlsKeyFile: keyFile }), {
        logger: false,
      });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
    });

    afterAll(async () => {
      await app?.close();
    });

    it('answers HTTPS to a client that trusts the certificate, and reports tls in /info', async () => {
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await get(`${url}/info`, { ca: cert });
      expect(res).toMatchObject({ status: 200 });
      expect(JSON.parse((res as { body: string }).body)).toMatchObject({
        service: 'inference-api',
        tls: true,
      });
      // By name too: the certificate is for localhost and 127.0.0.1.
      const byName = await get(`${url.replace('127.0.0.1', 'localhost')}/health`, { ca: cert });
      expect(byName).toMatchObject({ status: 200 });
    });

    it('is refused by a client that does not trust it', async () => {
      expect(await get(`${url}/health`)).toEqual({ error: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    });

    it('gives plain HTTP on the same port no normal answer', async () => {
      const res = await get(`${url.replace('https:', 'http:')}/info`);
      if ('status' in res) {
        expect(res.status).toBeGreaterThanOrEqual(400);
      } else {
        expect(res.error).toBeTruthy();
      }
    });

    it('lets a peer trust the certificate through NODE_EXTRA_CA_CERTS (global fetch)', async () => {
      const code =
        'fetch(process.argv[1]).then(async (r) => console.log(r.status, (await r.json()).tls),' +
        ' (e) => { console.log("failed", e.cause?.code ?? e.message); process.exitCode = 1; })';
      const env = { PATH: process.env.PATH ?? '' };
      const [trusted, untrusted] = await Promise.all([
        runNode(['-e', code, `${url}/info`], { ...env, NODE_EXTRA_CA_CERTS: certFile }),
        runNode(['-e', code, `${url}/info`], env),
      ]);
      expect(trusted).toEqual({ code: 0, output: '200 true\n' });
      expect(untrusted).toEqual({ code: 1, output: 'failed DEPTH_ZERO_SELF_SIGNED_CERT\n' });
    });

    it('reports tls: false without a certificate', async () => {
      const plain = await buildApp(inferenceConfig(), { logger: false });
      try {
        const res = await plain.inject({ method: 'GET', url: '/info' });
        expect(res.json()).toMatchObject({ tls: false });
      } finally {
        await plain.close();
      }
    });

    it('names the path of a file that is not a certificate or not the matching key', async () => {
      // The key as the certificate.
      await expect(
        loadTlsCredentials({ tlsCertFile: keyFile, tlsKeyFile: keyFile }),
      ).rejects.toThrow(`TLS_CERT_FILE: ${keyFile} is not a PEM certificate`);
      // The certificate as the key.
      await expect(
        loadTlsCredentials({ tlsCertFile: certFile, tlsKeyFile: certFile }),
      ).rejects.toThrow(`TLS_KEY_FILE: ${certFile} is not an unencrypted PEM private key`);
      // Another key.
      const otherKey = join(dir, 'other-key.pem');
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await writeFile(otherKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      await expect(
        loadTlsCredentials({ tlsCertFile: certFile, tlsKeyFile: otherKey }),
      ).rejects.toThrow(
        `TLS_KEY_FILE: the key in ${otherKey} does not belong to the certificate in ${certFile}`,
      );
      // The pair itself loads.
      expect(await loadTlsCredentials({ tlsCertFile: certFile, tlsKeyFile: keyFile })).toEqual({
        cert,
        key: await readFile(keyFile),
      });
    });
  },
);
