import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import { buildModel } from '../../shared/model/architectures.ts';
import { getModelWeights } from '../../shared/model/model-weights.ts';
import {
  encodeWeights,
  packWeights,
  WEIGHTS_MEDIA_TYPE,
  type NamedWeights,
} from '../../shared/weights/index.ts';

export interface ReceivedUpdate {
  runId: string;
  authorization: string | undefined;
  meta: Record<string, unknown>;
  weights: Buffer;
  weightsType: string;
  fieldOrder: string[];
}

/**
 * Just enough of the aggregator for a hospital node: serves one tiny global model's packed
 * weights to the right token and records the updates pushed to it.
 */
export interface FakeAggregator {
  url: string;
  model: { id: string; sha256: string };
  global: NamedWeights[];
  /** Weights served. */
  downloads: number;
  /** Every request for weights, answered or refused. */
  downloadRequests: number;
  uploadAttempts: number;
  updates: ReceivedUpdate[];
  /** Downloads wait until the returned function is called. */
  holdDownloads(): () => void;
  /** The next n uploads answer 503. */
  failUploads(n: number): void;
  close(): Promise<void>;
}

export async function startFakeAggregator(token: string): Promise<FakeAggregator> {
  const model = buildModel('se-resnet18-gn', { inputSize: 32, width: 8, seed: 7 });
  const global = getModelWeights(model);
  model.dispose();
  const { manifest, blob } = encodeWeights(global);
  const packed = packWeights(manifest, blob);
  let gate: Promise<void> = Promise.resolve();
  let failures = 0;

  const app = Fastify({ logger: false });
  await app.register(multipart, { limits: { fileSize: 64 << 20 } });
  const fake: FakeAggregator = {
    url: '',
    model: { id: 'model-1', sha256: manifest.sha256 },
    global,
    downloads: 0,
    downloadRequests: 0,
    uploadAttempts: 0,
    updates: [],
    holdDownloads() {
      let release = (): void => {};
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = Promise.resolve();
        release();
      };
    },
    failUploads(n) {
      failures = n;
    },
    close: () => app.close(),
  };

  app.get<{ Params: { id: string } }>('/models/:id/weights', async (request, reply) => {
    fake.downloadRequests++;
    if (request.headers.authorization !== `Bearer ${token}`) return reply.status(401).send({});
    if (request.params.id !== fake.model.id) {
      return reply.status(404).send({ error: { code: 'not-found', message: 'no such model' } });
    }
    await gate;
    fake.downloads++;
    return reply.type(WEIGHTS_MEDIA_TYPE).send(packed);
  });

  app.post<{ Params: { runId: string } }>('/rounds/:runId/updates', async (request, reply) => {
    fake.uploadAttempts++;
    const fields: Record<string, string> = {};
    const fieldOrder: string[] = [];
    let weights: Buffer = Buffer.alloc(0);
    let weightsType = '';
    for await (const part of request.parts()) {
      fieldOrder.push(part.fieldname);
      if (part.type === 'file') {
        weights = await part.toBuffer();
        weightsType = part.mimetype;
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
    if (failures > 0) {
      failures--;
      return reply.status(503).send({ error: { code: 'busy', message: 'try again' } });
    }
    fake.updates.push({
      runId: request.params.runId,
      authorization: request.headers.authorization,
      meta: JSON.parse(fields.meta) as Record<string, unknown>,
      weights,
      weightsType,
      fieldOrder,
    });
    return reply.status(202).send({ accepted: true });
  });

  fake.url = await app.listen({ port: 0, host: '127.0.0.1' });
  return fake;
}
