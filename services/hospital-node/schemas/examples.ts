/**
 * Example values of the hospital node's own bodies, shown in its OpenAPI document (the
 * schemas' `examples`; the wire contracts' are in shared/protocol/examples.ts).
 * test/openapi/examples.test.ts checks each against its schema.
 */
import { EXAMPLE_MODEL_ID, EXAMPLE_RUN_ID } from '../../../shared/protocol/examples.ts';

export const INFO_EXAMPLE = {
  hospitalId: 'st-marys',
  samples: { NORMAL: 512, PNEUMONIA: 1540, total: 2052 },
  splits: {
    train: { NORMAL: 410, PNEUMONIA: 1230, total: 1640 },
    validation: { NORMAL: 102, PNEUMONIA: 310, total: 412 },
  },
  backend: 'wasm',
  trainThreads: 1,
  version: '0.1.0',
  tls: true,
};

export const JOB_VIEW_EXAMPLE = {
  jobId: 'job-8c1d2e3f',
  runId: EXAMPLE_RUN_ID,
  round: 2,
  baseModelId: EXAMPLE_MODEL_ID,
  status: 'training',
  progress: { epoch: 1, epochs: 1, step: 40, steps: 103 },
  metrics: null,
  update: null,
  error: null,
  createdAt: '2026-11-30T10:03:13.020Z',
  finishedAt: null,
};

export const CANCEL_JOB_EXAMPLE = {};

export const EVALUATE_REQUEST_EXAMPLE = {
  model: {
    id: EXAMPLE_MODEL_ID,
    sha256: '3f6c2a9e0b1d4c7f8e5a6b2c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0',
  },
  architecture: 'se-resnet18-gn',
  inputSize: 224,
  width: 64,
  threshold: 0.5,
};
