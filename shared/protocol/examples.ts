/**
 * Example values of the wire contracts in shared/protocol, shown in the services' OpenAPI
 * documents (the schemas' `examples`). Not typed as the contracts (the schemas' types
 * would then refer to themselves): test/openapi/examples.test.ts checks each against its schema.
 */

export const EXAMPLE_SHA256 = '3f6c2a9e0b1d4c7f8e5a6b2c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0';
export const EXAMPLE_RUN_ID = 'cmi7x3k2p0000run1example';
export const EXAMPLE_MODEL_ID = 'cmi7x9q1r0004model2example';

export const MODEL_VIEW_EXAMPLE = {
  id: EXAMPLE_MODEL_ID,
  version: 2,
  runId: EXAMPLE_RUN_ID,
  roundIndex: 1,
  sha256: EXAMPLE_SHA256,
  sizeBytes: 45_118_212,
  architecture: 'se-resnet18-gn',
  inputSize: 224,
  width: 64,
  stage: 'production',
  metadata: {
    preprocessing: { inputSize: 224, normalization: 'per-image', equalize: false },
    threshold: {
      threshold: 0.42,
      rule: 'youden',
      description: "Youden's J on the pooled validation histograms",
      basis: { hospitals: 2, images: 412, positives: 301, negatives: 111, bins: 100, excluded: [] },
    },
    width: 64,
  },
  metrics: {
    validation: { n: 412, loss: 0.281, auc: 0.962, accuracy: 0.917, recall: 0.94 },
  },
  createdAt: '2026-11-30T10:12:44.120Z',
};

export const TRAIN_REQUEST_EXAMPLE = {
  runId: EXAMPLE_RUN_ID,
  round: 2,
  model: { id: EXAMPLE_MODEL_ID, sha256: EXAMPLE_SHA256 },
  architecture: 'se-resnet18-gn',
  inputSize: 224,
  width: 64,
  preprocessing: { inputSize: 224, normalization: 'per-image', equalize: false },
  settings: { epochs: 1, batchSize: 16, learningRate: 0.001, augment: true, seed: 7 },
  schedule: { startEpoch: 1, totalEpochs: 5 },
};

export const TRAIN_ACCEPTED_EXAMPLE = {
  jobId: 'job-8c1d2e3f',
};

export const EVALUATION_EXAMPLE = {
  n: 206,
  threshold: 0.5,
  loss: 0.274,
  accuracy: 0.922,
  precision: 0.951,
  recall: 0.943,
  specificity: 0.865,
  f1: 0.947,
  auc: 0.966,
  confusion: { tp: 142, fp: 7, tn: 48, fn: 9 },
  histogram: {
    bins: 4,
    positive: [3, 6, 20, 122],
    negative: [40, 8, 5, 2],
  },
};

export const NODE_WORK_EXAMPLE = {
  id: 'work-5b0e7d1c',
  method: 'POST',
  path: '/evaluate',
  headers: {
    'content-type': 'application/json',
    'x-fedxray-signature': 't=1764497564,v1=9b4c1e0f...',
  },
  body: '{"model":{"id":"cmi7x9q1r0004model2example","sha256":"3f6c..."},"architecture":"se-resnet18-gn","inputSize":224}',
};

export const NODE_WORK_ANSWER_EXAMPLE = {
  status: 200,
  contentType: 'application/json; charset=utf-8',
  body: '{"n":206,"threshold":0.5,"loss":0.274,"accuracy":0.922}',
};
