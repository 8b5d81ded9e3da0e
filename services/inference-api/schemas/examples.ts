/**
 * Example values of the inference API's bodies, shown in its OpenAPI document (the schemas'
 * `examples`). test/openapi/examples.test.ts checks each against its schema.
 */
import { EXAMPLE_MODEL_ID, EXAMPLE_SHA256 } from '../../../shared/protocol/examples.ts';

const MODEL_REF = {
  id: EXAMPLE_MODEL_ID,
  version: 2,
  round: 2,
  sha256: EXAMPLE_SHA256,
  architecture: 'se-resnet18-gn',
};

/** A 1 x 1 gray PNG: the shape of a heatmap, not a real one. */
const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

export const DIAGNOSIS_EXAMPLE = {
  label: 'PNEUMONIA',
  probability: 0.87,
  probabilities: { NORMAL: 0.13, PNEUMONIA: 0.87 },
  threshold: 0.42,
  probabilityScale: 'raw',
  model: MODEL_REF,
  timingMs: 184.2,
  explanation: {
    method: 'grad-cam',
    layer: 'stage4_block2_out',
    grid: { width: 7, height: 7 },
    width: 1024,
    height: 1024,
    heatmapPng: TINY_PNG,
    timingMs: 96.5,
  },
  disclaimer: 'Research use only. Not a medical device; not for clinical decisions.',
};

export const MODEL_INFO_EXAMPLE = {
  ...MODEL_REF,
  width: 64,
  inputSize: 224,
  threshold: 0.35,
  thresholdRule: 'youden',
  preprocessing: { inputSize: 224, normalization: 'per-image', equalize: false },
  members: 1,
  loadedAt: '2026-11-30T10:20:01.000Z',
  source: 'aggregator',
  inferRuntime: 'onnxruntime',
  modelThreshold: 0.42,
  thresholdSource: 'site',
  operatingPoint: {
    threshold: 0.35,
    setAt: '2026-12-01T14:00:00.000Z',
    reason: 'sensitivity 0.95 on 300 local images (fedxray accept)',
    basis: { n: 300, target: { metric: 'sensitivity', value: 0.95 }, specificity: 0.81 },
  },
};

export const SET_THRESHOLD_EXAMPLE = {
  threshold: 0.35,
  reason: 'sensitivity 0.95 on 300 local images (fedxray accept)',
  basis: { n: 300, target: { metric: 'sensitivity', value: 0.95 }, specificity: 0.81 },
};

export const READY_EXAMPLE = {
  ready: true,
  model: MODEL_REF,
  inFlight: 1,
  maxConcurrentDiagnoses: 4,
};
