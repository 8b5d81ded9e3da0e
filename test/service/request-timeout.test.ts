import net from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAggregatorConfig } from '../../services/aggregator/config.ts';
import { loadHospitalConfig } from '../../services/hospital-node/config.ts';
import { readInferenceConfig } from '../../services/inference-api/config.ts';
import { requestTimeoutServerOptions } from '../../shared/service/request-timeout.ts';
import { tf } from '../../shared/tf/tf.ts';
import { sampleJpeg, writeTinyModelDir } from '../inference-api/fixtures.ts';
import { useInferenceApp } from '../inference-api/test-app.ts';

let port: number;

const served = useInferenceApp('fedxray-slow-', async (dir) => {
  await writeTinyModelDir(join(dir, 'model'));
  return { modelDir: join(dir, 'model'), maxUploadBytes: 1024 * 1024, requestTimeoutMs: 1500 };
});

beforeAll(async () => {
  await served.app.listen({ port: 0, host: '127.0.0.1' });
  port = (served.app.server.address() as net.AddressInfo).port;
});

/**
 * Sends the headers and the start of a multipart upload, then one byte every 100 ms (a
 * slowloris client); resolves the status line and how long until the server closed.
 */
function trickleUpload(): Promise<{ statusLine: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let answer = '';
    let drip: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(
        'POST /diagnose HTTP/1.1\r\nHost: localhost\r\n' +
          'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 500000\r\n\r\n' +
          '--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n' +
          'Content-Type: image/jpeg\r\n\r\n',
      );
      drip = setInterval(() => socket.write('a'), 100);
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined); // the server closing mid-write; 'close' follows
    socket.on('close', () => {
      clearInterval(drip);
      resolve({ statusLine: answer.split('\r\n')[0], closedAfterMs: Date.now() - started });
    });
    setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
      reject(new Error(`no answer within 20 s (got "${answer}")`));
    }, 20_000).unref();
  });
}

describe('slow clients (REQUEST_TIMEOUT_MS)', () => {
  it('answers 408 and closes a connection whose upload trickles past the deadline', async () => {
    const tensors = tf.memory().numTensors;
    const outcome = await trickleUpload();
    expect(outcome.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    // The deadline is 1.5 s and connections are checked every 750 ms.
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(1400);
    expect(outcome.closedAfterMs).toBeLessThan(5000);
    // Nothing was lost: the service still diagnoses, and no tensor was left behind.
    const ok = await request(served.app.server)
      .post('/diagnose')
      .attach('image', sampleJpeg(), 'x.jpg');
    expect(ok.status).toBe(200);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('each service reads REQUEST_TIMEOUT_MS, with a default sized to what it receives', () => {
    expect(loadAggregatorConfig({}).requestTimeoutMs).toBe(600_000);
    const node = {
      HOSPITAL_ID: 'h1',
      DATA_DIR: served.dir,
      AGGREGATOR_URL: 'http://127.0.0.1:3000',
      HOSPITAL_TOKEN: 'x'.repeat(32),
    };
    expect(loadHospitalConfig(node).requestTimeoutMs).toBe(60_000);
    expect(readInferenceConfig({ MODEL_DIR: served.dir }).requestTimeoutMs).toBe(30_000);
    expect(
      readInferenceConfig({ MODEL_DIR: served.dir, REQUEST_TIMEOUT_MS: '0' }).requestTimeoutMs,
    ).toBe(0);
    expect(() =>
      readInferenceConfig({ MODEL_DIR: served.dir, REQUEST_TIMEOUT_MS: 'soon' }),
    ).toThrow(/REQUEST_TIMEOUT_MS/);
  });

  it('gives Node the deadline at server creation, headers deadline within it', () => {
    expect(requestTimeoutServerOptions(1500)).toEqual({
      requestTimeout: 1500,
      headersTimeout: 1500,
      connectionsCheckingInterval: 750,
    });
    expect(requestTimeoutServerOptions(600_000)).toEqual({
      requestTimeout: 600_000,
      headersTimeout: 60_000,
      connectionsCheckingInterval: 1000,
    });
    expect(requestTimeoutServerOptions(0)).toEqual({
      requestTimeout: 0,
      headersTimeout: 60_000,
      connectionsCheckingInterval: 1000,
    });
  });
});
