import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { requireToken } from '../../services/hospital-node/plugins/auth.ts';
import {
  decodeWeights,
  encodeWeights,
  packWeights,
  unpackWeights,
  WEIGHTS_MEDIA_TYPE,
  type NamedWeights,
} from '../../shared/weights/index.ts';

/** A fake node's POST /evaluate answer unless its behaviour says otherwise: a healthy model. */
export const DEFAULT_EVALUATION = {
  n: 10,
  threshold: 0.5,
  loss: 0.4,
  accuracy: 0.8,
  precision: 0.8,
  recall: 0.8,
  specificity: 0.8,
  f1: 0.8,
  auc: 0.9,
  confusion: { tp: 4, fp: 1, tn: 4, fn: 1 },
};
export interface FakeBehaviour {
  /** Refuse POST /train with this status instead of starting a job. */
  trainStatus?: number;
  /** The update's weights, from the downloaded global ones (default: every value + 0.001 x round). */
  makeUpdate?: (global: NamedWeights[], round: number) => NamedWeights[];
  numSamples?: number;
  /** Train, but never upload. */
  silent?: boolean;
  /** Wait this long before uploading. */
  uploadDelayMs?: number;
  /** Upload the same update twice (a retry after a lost answer). */
  uploadTwice?: boolean;
  /** Answer GET /health after this long. */
  healthDelayMs?: number;
  /** Fields answered by POST /evaluate over the defaults (e.g. a score histogram). */
  evaluation?: Record<string, unknown>;
  /** Answer POST /evaluate with this status (an error) instead of the metrics. */
  evaluateStatus?: number;
  /** GET /info's splits.train [NORMAL, PNEUMONIA] (default: 40% / 60% of numSamples). */
  trainCounts?: [number, number];
  /** Answer GET /info with this status (an error) instead of the counts. */
  infoStatus?: number;
  /** Serve POST /train/:jobId/cancel (a cancelled job uploads nothing); default: no such route. */
  cancellable?: boolean;
}

export interface TrainCall {
  body: TrainBody;
  jobId: string;
}

export interface TrainBody {
  runId: string;
  round: number;
  model: { id: string; sha256: string };
  architecture: string;
  inputSize: number;
  width: number;
  preprocessing: Record<string, unknown>;
  settings: Record<string, number | string | number[]>;
  schedule: { startEpoch: number; totalEpochs: number };
}

export interface UploadResult {
  round: number;
  jobId: string;
  status: number;
  body: Record<string, unknown>;
}

/**
 * A hospital node without images: it checks the aggregator's signatures with the node's own
 * hook, downloads the global weights with its token, and posts back updates derived from them.
 */
export interface FakeHospital {
  name: string;
  url: string;
  token: string;
  behaviour: FakeBehaviour;
  trains: TrainCall[];
  /** GET /info requests it answered (errors included). */
  infos: number;
  evaluations: Record<string, unknown>[];
  uploads: UploadResult[];
  /** Job ids of the POST /train/:jobId/cancel requests it was sent (cancellable only). */
  cancels: string[];
  jobs: Map<string, { status: string; error: string | null }>;
  /** Uploads of `round` wait until the returned function is called. */
  hold(round: number): () => void;
  /**
   * The answers to POST /train (refusals included) wait until `release` is called; the job is
   * started (and recorded in `trains`) meanwhile. `received` resolves when the first such
   * request has come.
   */
  holdTrainAnswer(): { received: Promise<void>; release(): void };
  /** Resolves when every job started so far has finished. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export const TINY = { architecture: 'se-resnet18-gn', inputSize: 32, width: 8 } as const;

export async function startFakeHospital(
  name: string,
  aggregatorUrl: () => string,
  behaviour: FakeBehaviour = {},
  port = 0,
): Promise<FakeHospital> {
  const app: FastifyInstance = Fastify({ logger: false });
  const gates = new Map<number, Promise<void>>();
  let trainGate: { arrived(): void; open: Promise<void> } | null = null;
  const running = new Set<Promise<void>>();
  const fake: FakeHospital = {
    name,
    url: '',
    token: '',
    behaviour,
    trains: [],
    infos: 0,
    evaluations: [],
    uploads: [],
    cancels: [],
    jobs: new Map(),
    hold(round) {
      let release = (): void => {};
      gates.set(round, new Promise<void>((resolve) => (release = resolve)));
      return () => {
        gates.delete(round);
        release();
      };
    },
    holdTrainAnswer() {
      let arrived = (): void => {};
      let release = (): void => {};
      const received = new Promise<void>((resolve) => (arrived = resolve));
      const gate = { arrived, open: new Promise<void>((resolve) => (release = resolve)) };
      trainGate = gate;
      return {
        received,
        release: () => {
          if (trainGate === gate) trainGate = null;
          release();
        },
      };
    },
    async settled() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    async close() {
      await app.close();
    },
  };
  const signed = async (...args: Parameters<ReturnType<typeof requireToken>>) =>
    requireToken(fake.token).apply(app, args);

  /** fetch, tried again on network errors: the aggregator may be restarting. */
  const call = async (path: string, init: () => RequestInit = () => ({})): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(`${aggregatorUrl()}${path}`, {
          ...init(),
          headers: { authorization: `Bearer ${fake.token}` },
        });
      } catch (error) {
        if (attempt >= 30) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  const download = async (modelId: string): Promise<NamedWeights[]> => {
    const res = await call(`/models/${modelId}/weights`);
    if (!res.ok) throw new Error(`download answered ${res.status}: ${await res.text()}`);
    const { manifest, blob } = unpackWeights(Buffer.from(await res.arrayBuffer()));
    return decodeWeights(manifest, blob);
  };

  const upload = async (body: TrainBody, jobId: string, packed: Buffer): Promise<void> => {
    const meta = {
      round: body.round,
      hospitalId: name,
      jobId,
      baseModelId: body.model.id,
      numSamples: fake.behaviour.numSamples ?? 10,
      metrics: { loss: 0.5, accuracy: 0.75 },
      durationMs: 12,
    };
    const res = await call(`/rounds/${body.runId}/updates`, () => {
      const form = new FormData();
      form.append('meta', JSON.stringify(meta));
      form.append('weights', new Blob([packed], { type: WEIGHTS_MEDIA_TYPE }), 'weights.fxw');
      return { method: 'POST', body: form };
    });
    fake.uploads.push({
      round: body.round,
      jobId,
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
    });
  };

  const runJob = async (body: TrainBody, jobId: string): Promise<void> => {
    const job = fake.jobs.get(jobId) as { status: string; error: string | null };
    try {
      const global = await download(body.model.id);
      const make =
        fake.behaviour.makeUpdate ??
        ((weights: NamedWeights[], round: number) =>
          weights.map((w) => ({ ...w, data: w.data.map((v) => v + 0.001 * round) })));
      const { manifest, blob } = encodeWeights(make(global, body.round));
      const packed = packWeights(manifest, blob);
      await gates.get(body.round);
      if (fake.behaviour.silent) {
        job.status = 'training';
        return;
      }
      if (fake.behaviour.uploadDelayMs) {
        await new Promise((resolve) => setTimeout(resolve, fake.behaviour.uploadDelayMs));
      }
      if (job.status === 'failed') return; // cancelled
      await upload(body, jobId, packed);
      if (fake.behaviour.uploadTwice) await upload(body, jobId, packed);
      job.status = 'done';
    } catch (error) {
      job.status = 'failed';
      job.error = (error as Error).message;
    }
  };

  app.post<{ Body: TrainBody }>('/train', { onRequest: signed }, async (request, reply) => {
    const gate = trainGate;
    gate?.arrived();
    if (fake.behaviour.trainStatus) {
      await gate?.open;
      return reply
        .status(fake.behaviour.trainStatus)
        .send({ error: { code: 'broken', message: 'this node is broken' } });
    }
    const jobId = randomUUID();
    fake.trains.push({ body: request.body, jobId });
    fake.jobs.set(jobId, { status: 'downloading', error: null });
    const job = runJob(request.body, jobId);
    running.add(job);
    void job.finally(() => running.delete(job));
    await gate?.open;
    return reply.status(202).send({ jobId });
  });

  if (behaviour.cancellable) {
    app.post<{ Params: { jobId: string } }>(
      '/train/:jobId/cancel',
      { onRequest: signed },
      async (request, reply) => {
        const job = fake.jobs.get(request.params.jobId);
        fake.cancels.push(request.params.jobId);
        if (!job)
          return reply.status(404).send({ error: { code: 'job-not-found', message: 'no' } });
        if (job.status === 'done' || job.status === 'failed') {
          return reply.status(409).send({ error: { code: 'job-not-running', message: 'no' } });
        }
        Object.assign(job, {
          status: 'failed',
          error: 'cancelled: the aggregator cancelled the run',
        });
        return { jobId: request.params.jobId, ...job };
      },
    );
  }

  app.get('/health', async () => {
    if (fake.behaviour.healthDelayMs) {
      await new Promise((resolve) => setTimeout(resolve, fake.behaviour.healthDelayMs));
    }
    return { status: 'ok' };
  });

  app.get('/info', async (_request, reply) => {
    fake.infos++;
    const { infoStatus, trainCounts, numSamples = 10 } = fake.behaviour;
    if (infoStatus) {
      return reply
        .status(infoStatus)
        .send({ error: { code: 'broken', message: 'no counts here' } });
    }
    const normal = Math.floor(numSamples * 0.4);
    const [NORMAL, PNEUMONIA] = trainCounts ?? [normal, numSamples - normal];
    const train = { NORMAL, PNEUMONIA, total: NORMAL + PNEUMONIA };
    const validation = { NORMAL: 2, PNEUMONIA: 3, total: 5 };
    return { hospitalId: name, samples: train, splits: { train, validation } };
  });

  app.get<{ Params: { jobId: string } }>('/train/:jobId', async (request, reply) => {
    const job = fake.jobs.get(request.params.jobId);
    if (!job) return reply.status(404).send({ error: { code: 'job-not-found', message: 'no' } });
    return { jobId: request.params.jobId, ...job };
  });

  app.post<{ Body: { model: { id: string; sha256: string } } }>(
    '/evaluate',
    { onRequest: signed },
    async (request, reply) => {
      fake.evaluations.push(request.body as Record<string, unknown>);
      if (fake.behaviour.evaluateStatus) {
        return reply
          .status(fake.behaviour.evaluateStatus)
          .send({ error: { code: 'broken', message: 'cannot evaluate' } });
      }
      const res = await call(`/models/${request.body.model.id}/weights`);
      if (!res.ok) throw new Error(`evaluation download answered ${res.status}`);
      const { manifest } = unpackWeights(Buffer.from(await res.arrayBuffer()));
      if (manifest.sha256 !== request.body.model.sha256) throw new Error('other weights');
      return { ...DEFAULT_EVALUATION, ...fake.behaviour.evaluation };
    },
  );

  fake.url = await app.listen({ port, host: '127.0.0.1' });
  return fake;
}
