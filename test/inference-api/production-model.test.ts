import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import {
  parseProductionModel,
  ProductionModelError,
} from '../../services/inference-api/lib/production-model.ts';
import { ModelViewSchema, type ModelView } from '../../shared/protocol/model-view.ts';

const SHA = 'ab'.repeat(32);

describe('parseProductionModel', () => {
  it('reads the aggregator ModelVersion shape', () => {
    expect(
      parseProductionModel({
        id: 'm1',
        version: 3,
        roundIndex: 1,
        sha256: SHA.toUpperCase(),
        sizeBytes: 100,
        architecture: 'se-resnet18-gn',
        inputSize: 64,
        metadata: {
          width: 64,
          preprocessing: { inputSize: 64, normalization: 'unit', equalize: true },
          threshold: { threshold: 0.42, rule: 'youden', description: '...' },
        },
        stage: 'production',
      }),
    ).toEqual({
      id: 'm1',
      version: 3,
      round: 1,
      sha256: SHA,
      architecture: 'se-resnet18-gn',
      inputSize: 64,
      width: 64,
      preprocessing: { inputSize: 64, normalization: 'unit', equalize: true },
      threshold: 0.42,
      thresholdRule: 'youden',
    });
  });

  it('fills defaults for what a minimal record leaves out', () => {
    expect(
      parseProductionModel({
        model: { id: 'm2', sha256: SHA, architecture: 'alexnet', inputSize: 48 },
      }),
    ).toEqual({
      id: 'm2',
      version: null,
      round: null,
      sha256: SHA,
      architecture: 'alexnet',
      inputSize: 48,
      width: null,
      preprocessing: { inputSize: 48, normalization: 'per-image', equalize: false },
      threshold: 0.5,
      thresholdRule: 'default:0.5',
    });
  });

  it.each([
    ['not an object', 'x', /not a JSON object/],
    ['no id', { sha256: SHA, architecture: 'alexnet', inputSize: 64 }, /no id/],
    ['a bad sha256', { id: 'm', sha256: 'abc', architecture: 'alexnet', inputSize: 64 }, /sha256/],
    [
      'an unknown architecture',
      { id: 'm', sha256: SHA, architecture: 'x', inputSize: 64 },
      /architecture/,
    ],
    ['no input size', { id: 'm', sha256: SHA, architecture: 'alexnet' }, /inputSize/],
    [
      'disagreeing input sizes',
      {
        id: 'm',
        sha256: SHA,
        architecture: 'alexnet',
        inputSize: 64,
        preprocessing: { inputSize: 32 },
      },
      /preprocessing.inputSize 32/,
    ],
    [
      'an unknown normalization',
      {
        id: 'm',
        sha256: SHA,
        architecture: 'alexnet',
        inputSize: 64,
        preprocessing: { normalization: 'z' },
      },
      /normalization/,
    ],
    [
      'a non-numeric threshold',
      { id: 'm', sha256: SHA, architecture: 'alexnet', inputSize: 64, threshold: 'high' },
      /threshold/,
    ],
  ])('refuses %s', (_name, body, message) => {
    expect(() => parseProductionModel(body)).toThrow(ProductionModelError);
    expect(() => parseProductionModel(body)).toThrow(message);
  });
});

describe('the aggregator model view (shared/protocol/model-view.ts)', () => {
  it('is read field for field: one schema on both ends', () => {
    const view: ModelView = {
      id: 'cm-1',
      version: 4,
      runId: 'run-1',
      roundIndex: 3,
      sha256: 'ab'.repeat(32),
      sizeBytes: 1234,
      architecture: 'se-resnet18-gn',
      inputSize: 64,
      width: 16,
      stage: 'production',
      metadata: {
        preprocessing: { inputSize: 64, normalization: 'unit', equalize: true },
        threshold: { threshold: 0.42, rule: 'min-recall:0.95' },
        width: 16,
      },
      metrics: {},
      createdAt: '2026-12-03T00:00:00.000Z',
    };
    expect(Value.Check(ModelViewSchema, view)).toBe(true);
    expect(parseProductionModel(view)).toEqual({
      id: 'cm-1',
      version: 4,
      round: 3,
      sha256: 'ab'.repeat(32),
      architecture: 'se-resnet18-gn',
      inputSize: 64,
      width: 16,
      preprocessing: { inputSize: 64, normalization: 'unit', equalize: true },
      threshold: 0.42,
      thresholdRule: 'min-recall:0.95',
    });
  });
});
