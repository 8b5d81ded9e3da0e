import { Value } from '@sinclair/typebox/value';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRunSettings, trainRequest } from '../../services/aggregator/lib/run-settings.ts';
import { TrainRequestSchema } from '../../shared/protocol/train-request.ts';
import { UpdateMetaSchema } from '../../shared/protocol/update-meta.ts';

const MODEL = { id: 'model-1', sha256: 'a'.repeat(64) };

// The schema checked as the node checks it: by fastify's validator on a route's body.
const node = Fastify();
node.post('/train', { schema: { body: TrainRequestSchema } }, async () => ({ ok: true }));
beforeAll(() => node.ready());
afterAll(() => node.close());

async function nodeAnswers(body: unknown): Promise<{ status: number; message?: string }> {
  const res = await node.inject({ method: 'POST', url: '/train', payload: body as object });
  return { status: res.statusCode, message: res.json().message };
}

describe('the aggregator-node protocol is one schema on both ends', () => {
  it("every train request the aggregator builds passes the node's schema", async () => {
    const plain = resolveRunSettings({ rounds: 3 });
    const tuned = resolveRunSettings({
      rounds: 3,
      inputSize: 128,
      augmentPolicy: 'strong',
      maxStepsPerEpoch: 5,
      proximalMu: 0.1,
    });
    for (const [settings, weights] of [
      [plain, null],
      [tuned, [1.5, 0.5] as const],
    ] as const) {
      const body = trainRequest('run-1', settings, 2, 0, MODEL, weights);
      expect(await nodeAnswers(body)).toEqual({ status: 200 });
    }
    const strong = trainRequest('run-1', tuned, 1, 0, MODEL);
    expect(strong.settings?.augmentPolicy).toBe('strong');
    expect(trainRequest('run-1', plain, 1, 0, MODEL).settings?.augmentPolicy).toBeUndefined();
  });

  it("a request off the contract fails the node's schema", async () => {
    const body = trainRequest('run-1', resolveRunSettings({}), 1, 0, MODEL);
    const badEpochs = await nodeAnswers({ ...body, settings: { ...body.settings, epochs: 'x' } });
    expect(badEpochs.status).toBe(400);
    expect(badEpochs.message).toMatch(/epochs/);
    expect((await nodeAnswers({ ...body, model: { id: 'm' } })).status).toBe(400);
  });

  it('update metadata as a node sends it passes the schema the aggregator checks with', () => {
    const meta = {
      round: 1,
      hospitalId: 'h1',
      jobId: 'job-1',
      baseModelId: 'model-1',
      numSamples: 12,
      metrics: { loss: 0.4, accuracy: 0.8 },
      durationMs: 1200,
    };
    expect(Value.Check(UpdateMetaSchema, meta)).toBe(true);
    expect(Value.Check(UpdateMetaSchema, { ...meta, numSamples: 0 })).toBe(false);
  });
});
