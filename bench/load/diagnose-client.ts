/**
 * The client of the POST /diagnose load benchmark (diagnose.ts): one concurrency level of
 * multipart uploads over keep-alive connections, run in a worker thread of its own so that it
 * does not share the server's event loop.
 */
import { Agent, request as httpRequest } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface ClientJob {
  url: string;
  contentType: string;
  bodies: Uint8Array[];
  concurrency: number;
  requests: number;
  maxSeconds: number;
  /** Per-request timeout. */
  timeoutMs: number;
}

export interface ClientResult {
  /** Milliseconds from sending to the last byte of the answer, of every completed request. */
  latencies: Float64Array;
  byStatus: Record<string, number>;
  /** Requests without an HTTP answer (connection errors, timeouts), by error code. */
  networkErrors: Record<string, number>;
  /** 200 answers whose body was not a diagnosis. */
  invalidBodies: number;
  elapsedMs: number;
  stoppedBy: 'requests' | 'time';
}

async function runClient(job: ClientJob): Promise<ClientResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const bodies = job.bodies.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  const networkErrors: Record<string, number> = {};
  let invalidBodies = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = started + job.maxSeconds * 1000;

  const once = (body: Buffer): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = httpRequest(
        job.url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': job.contentType, 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            const status = String(res.statusCode);
            byStatus[status] = (byStatus[status] ?? 0) + 1;
            if (res.statusCode === 200) {
              try {
                const label = JSON.parse(Buffer.concat(chunks).toString('utf8')).label;
                if (label !== 'NORMAL' && label !== 'PNEUMONIA') invalidBodies++;
              } catch {
                invalidBodies++;
              }
            }
            resolve();
          });
          res.on('error', () => undefined);
        },
      );
      req.setTimeout(job.timeoutMs, () =>
        req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code ?? error.message;
        networkErrors[code] = (networkErrors[code] ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });

  let stoppedBy: ClientResult['stoppedBy'] = 'requests';
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (issued < job.requests) {
        if (performance.now() >= deadline) {
          stoppedBy = 'time';
          return;
        }
        const i = issued++;
        await once(bodies[i % bodies.length]);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return {
    latencies: Float64Array.from(latencies),
    byStatus,
    networkErrors,
    invalidBodies,
    elapsedMs,
    stoppedBy,
  };
}

/** Runs one level in a fresh worker thread (tsx is registered there first). */
export function runInWorker(job: ClientJob): Promise<ClientResult> {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const source =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((m) => { m.register(); return import(${JSON.stringify(self)}); })`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: job });
    worker.once('message', (result: ClientResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`client worker exited with ${code}`));
    });
  });
}

if (!isMainThread) {
  parentPort?.postMessage(await runClient(workerData as ClientJob));
}
