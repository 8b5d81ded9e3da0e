import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';
import { buildModel } from '../../shared/model/architectures.ts';
import { saveModelDir, type ModelMetadata } from '../../shared/model/model-dir.ts';
import { getModelWeights } from '../../shared/model/model-weights.ts';
import { encodeWeights, packWeights, WEIGHTS_MEDIA_TYPE } from '../../shared/weights/index.ts';

export const TINY = { architecture: 'se-resnet18-gn', inputSize: 32, width: 8 } as const;
export const TINY_PREPROCESSING = {
  inputSize: 32,
  normalization: 'per-image',
  equalize: false,
} as const;

function tinyMetadata(parameters: number): ModelMetadata {
  return {
    format: 'fedxray-model',
    version: 1,
    architecture: TINY.architecture,
    width: TINY.width,
    preprocessing: { ...TINY_PREPROCESSING },
    classes: ['NORMAL', 'PNEUMONIA'],
    threshold: { threshold: 0.5, rule: 'fixed:0.5', description: 'fixed threshold 0.5' },
    parameters,
    createdAt: new Date().toISOString(),
    training: { kind: 'federated', rounds: 2 },
  };
}

/** A tiny se-resnet18-gn model directory (32 px, width 8, threshold 0.5). */
export async function writeTinyModelDir(dir: string, seed = 1): Promise<void> {
  const model = buildModel(TINY.architecture, {
    inputSize: TINY.inputSize,
    width: TINY.width,
    seed,
  });
  try {
    await saveModelDir(dir, model, tinyMetadata(model.countParams()));
  } finally {
    model.dispose();
  }
}

/** What the fake aggregator serves for one model. */
export interface FakeModel {
  /** The id its weights are served under. */
  id: string;
  /** GET /models/production answers this object. */
  record: Record<string, unknown>;
  /** GET /models/:id/weights answers this body. */
  packed: Buffer;
}

/** A tiny model as the aggregator would store it (the prisma ModelVersion shape). */
export function tinyAggregatorModel(id: string, version: number, seed: number): FakeModel {
  const model = buildModel(TINY.architecture, {
    inputSize: TINY.inputSize,
    width: TINY.width,
    seed,
  });
  const { manifest, blob } = encodeWeights(getModelWeights(model));
  model.dispose();
  return {
    id,
    record: {
      id,
      version,
      runId: 'run-1',
      roundIndex: version - 1,
      sha256: manifest.sha256,
      sizeBytes: blob.length,
      architecture: TINY.architecture,
      inputSize: TINY.inputSize,
      metadata: {
        width: TINY.width,
        preprocessing: { ...TINY_PREPROCESSING },
        threshold: { threshold: 0.5, rule: 'fixed:0.5', description: 'fixed threshold 0.5' },
        classes: ['NORMAL', 'PNEUMONIA'],
      },
      metrics: null,
      stage: 'production',
      createdAt: new Date().toISOString(),
    },
    packed: packWeights(manifest, blob),
  };
}

export interface FakeAggregator {
  url: string;
  /** The production model; null answers 404. */
  production: FakeModel | null;
  /** While set, weights requests wait for it: a load stays in progress. */
  weightsGate: Promise<void> | null;
  /** Weights requests received (including those waiting at the gate). */
  weightRequests: number;
  /** Served instead of the real weights when set (corruption tests). */
  weightsOverride: Buffer | null;
  /** The Authorization header of each weights request (undefined: none). */
  weightAuthorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** A stand-in for the aggregator's two model routes, on an ephemeral port. */
export async function startFakeAggregator(): Promise<FakeAggregator> {
  const app: FastifyInstance = Fastify({ logger: false });
  const state: FakeAggregator = {
    url: '',
    production: null,
    weightsGate: null,
    weightsOverride: null,
    weightRequests: 0,
    weightAuthorizations: [],
    close: () => app.close(),
  };
  const models = new Map<string, FakeModel>();
  app.get('/models/production', async (_request, reply) => {
    const production = state.production;
    if (!production) {
      return reply.status(404).send({ error: { code: 'not-found', message: 'no production' } });
    }
    models.set(production.id, production);
    return production.record;
  });
  app.get<{ Params: { id: string } }>('/models/:id/weights', async (request, reply) => {
    const model = models.get(request.params.id);
    if (!model) return reply.status(404).send({ error: { code: 'not-found', message: 'no' } });
    state.weightRequests++;
    state.weightAuthorizations.push(request.headers.authorization);
    if (state.weightsGate) await state.weightsGate;
    return reply.type(WEIGHTS_MEDIA_TYPE).send(state.weightsOverride ?? model.packed);
  });
  state.url = await app.listen({ port: 0, host: '127.0.0.1' });
  return state;
}

// ---- images ----

export function sampleImagePath(label: 'NORMAL' | 'PNEUMONIA'): string {
  const dir = join(SAMPLE_DATA_DIR, label);
  const name = readdirSync(dir).find((f) => f.endsWith('.jpeg') || f.endsWith('.jpg'));
  if (!name) throw new Error(`no sample image in ${dir}`);
  return join(dir, name);
}

export function sampleJpeg(label: 'NORMAL' | 'PNEUMONIA' = 'PNEUMONIA'): Buffer {
  return readFileSync(sampleImagePath(label));
}

/** An RGB PNG with a gradient, like a screenshot of an X-ray. */
export async function rgbPng(width = 300, height = 240): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = 128;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** A large (3000 x 2400) JPEG: resized by the server, still well under the upload limit. */
export async function largeJpeg(): Promise<Buffer> {
  return sharp(await rgbPng(300, 240))
    .resize(3000, 2400)
    .jpeg({ quality: 80 })
    .toBuffer();
}

/** A noise PNG of about 1.5 MB: bigger than fastify's default body limit of 1 MiB. */
export async function noisePng(side = 720): Promise<Buffer> {
  const data = randomBytes(side * side * 3);
  return sharp(data, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

export async function tinyPng(side = 10): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
}

export async function gif(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
    .gif()
    .toBuffer();
}

/**
 * A valid PNG whose header claims 10000 x 10000 pixels (100 megapixels, over the 50 MP limit):
 * a decompression bomb is refused from its header, so the pixels need not exist.
 */
export async function hugePngHeader(): Promise<Buffer> {
  const png = Buffer.from(await tinyPng(40));
  // Signature (8) | IHDR length (4) | "IHDR" (4) | width (4) | height (4) | ... | CRC
  png.writeUInt32BE(10_000, 16);
  png.writeUInt32BE(10_000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}
