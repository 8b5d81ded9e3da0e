/**
 * Example values of the aggregator's request and response bodies, shown in its OpenAPI
 * document (the schemas' `examples`). Not typed as the contracts (the schemas' types
 * would then refer to themselves): test/openapi/examples.test.ts checks each against its schema.
 */
import {
  EXAMPLE_MODEL_ID,
  EXAMPLE_RUN_ID,
  EXAMPLE_SHA256,
} from '../../../shared/protocol/examples.ts';

const HOSPITAL_ID = 'cmi7w1a2b0001hospitala';
const TOKEN = 'fxh_Yk3q9T0vR2mW7pL5sN8cD1fG4hJ6kZ0x';
const ROTATED_AT = '2026-11-28T09:00:00.000Z';

export const START_RUN_EXAMPLE = {
  architecture: 'se-resnet18-gn',
  inputSize: 224,
  rounds: 5,
  localEpochs: 1,
  batchSize: 16,
  learningRate: 0.001,
  minHospitals: 2,
  thresholdRule: 'youden',
  strategy: { name: 'fedavg' },
  promote: true,
  promotionGate: { minAuc: 0.9 },
};

export const RUN_CREATED_EXAMPLE = { id: EXAMPLE_RUN_ID };

export const CANCEL_RUN_EXAMPLE = {
  reason: 'wrong learning rate',
};

const SETTINGS = {
  architecture: 'se-resnet18-gn',
  inputSize: 224,
  width: 64,
  rounds: 5,
  clientFraction: 1,
  localEpochs: 1,
  batchSize: 16,
  learningRate: 0.001,
  augmentPolicy: 'light',
  minHospitals: 2,
  roundTimeoutSeconds: 600,
  maxDownloads: 5,
  earlyStopPatience: 0,
  earlyStopMinDelta: 0.001,
  maxUpdateNormRatio: 10,
  thresholdRule: 'youden',
  strategy: { name: 'fedavg' },
  classWeights: 'local',
  promote: true,
  promotionGate: { minAuc: 0.9 },
  seed: 1234,
};

const SUMMARY = {
  id: EXAMPLE_RUN_ID,
  status: 'running',
  settings: SETTINGS,
  currentRound: 1,
  failureReason: null,
  promotionRefusedReason: null,
  cancellation: null,
  createdAt: '2026-11-30T10:00:00.000Z',
  startedAt: '2026-11-30T10:00:00.250Z',
  finishedAt: null,
};

export const RUN_LIST_EXAMPLE = { runs: [SUMMARY] };

const ROUND = {
  index: 0,
  round: 1,
  status: 'completed',
  selectedHospitalIds: [HOSPITAL_ID],
  deadlineAt: '2026-11-30T10:10:00.300Z',
  startedAt: '2026-11-30T10:00:00.300Z',
  finishedAt: '2026-11-30T10:03:12.900Z',
  durationMs: 192_600,
  metrics: { trainLoss: 0.412, trainAccuracy: 0.861, validation: { auc: 0.948, loss: 0.33 } },
  failureReason: null,
  inputModelId: 'cmi7x3k2q0001model0example',
  outputModelId: EXAMPLE_MODEL_ID,
  updates: [
    {
      hospitalId: HOSPITAL_ID,
      hospitalName: 'st-marys',
      status: 'accepted',
      failureReason: null,
      numSamples: 1640,
      durationMs: 181_220,
      metrics: { loss: 0.412, accuracy: 0.861 },
      jobId: 'job-8c1d2e3f',
      sha256: EXAMPLE_SHA256,
      sizeBytes: 45_118_212,
      updatedAt: '2026-11-30T10:03:11.400Z',
    },
  ],
};

export const RUN_DETAIL_EXAMPLE = {
  ...SUMMARY,
  currentRound: 2,
  classWeights: { mode: 'local', weights: null, counts: null, basis: null, readAt: null },
  finalModelId: null,
  privacy: null,
  rounds: [ROUND],
};

export const CREATE_HOSPITAL_EXAMPLE = {
  name: 'st-marys',
  baseUrl: 'https://node.st-marys.example:3100',
};

export const HOSPITAL_CREATED_EXAMPLE = {
  id: HOSPITAL_ID,
  name: 'st-marys',
  baseUrl: 'https://node.st-marys.example:3100',
  token: TOKEN,
};

export const HOSPITAL_VIEW_EXAMPLE = {
  id: HOSPITAL_ID,
  name: 'st-marys',
  baseUrl: 'https://node.st-marys.example:3100',
  status: 'active',
  lastSeenAt: '2026-11-30T10:03:11.400Z',
  sampleCount: 1640,
  createdAt: '2026-11-20T08:00:00.000Z',
  tokenRotatedAt: ROTATED_AT,
  previousTokenExpiresAt: null,
};

export const HOSPITAL_LIST_EXAMPLE = { hospitals: [HOSPITAL_VIEW_EXAMPLE] };

export const UPDATE_HOSPITAL_EXAMPLE = { status: 'disabled' };

export const ROTATE_TOKEN_EXAMPLE = { graceSeconds: 3600 };

export const HOSPITAL_TOKEN_ROTATED_EXAMPLE = {
  id: HOSPITAL_ID,
  name: 'st-marys',
  token: TOKEN,
  tokenRotatedAt: ROTATED_AT,
  previousTokenExpiresAt: '2026-11-28T10:00:00.000Z',
};

const READER_ID = 'cmi7w5r6s0002readerinfer';
const READER_TOKEN = 'fxr_Hq2w8E4rT6yU1iO3pA5sD7fG9hJ0kL2z';

export const CREATE_READER_EXAMPLE = { name: 'inference-api' };

export const READER_CREATED_EXAMPLE = {
  id: READER_ID,
  name: 'inference-api',
  token: READER_TOKEN,
};

export const READER_VIEW_EXAMPLE = {
  id: READER_ID,
  name: 'inference-api',
  createdAt: '2026-11-20T08:05:00.000Z',
  tokenRotatedAt: ROTATED_AT,
  previousTokenExpiresAt: null,
  revokedAt: null,
};

export const READER_LIST_EXAMPLE = { readers: [READER_VIEW_EXAMPLE] };

export const READER_TOKEN_ROTATED_EXAMPLE = {
  id: READER_ID,
  name: 'inference-api',
  token: READER_TOKEN,
  tokenRotatedAt: ROTATED_AT,
  previousTokenExpiresAt: '2026-11-28T10:00:00.000Z',
};

export const UPDATE_RECEIPT_EXAMPLE = {
  runId: EXAMPLE_RUN_ID,
  round: 1,
  hospitalId: HOSPITAL_ID,
  jobId: 'job-8c1d2e3f',
  status: 'received',
  sha256: EXAMPLE_SHA256,
};

export const DASHBOARD_CONFIG_EXAMPLE = {
  inferenceUrl: 'https://inference.example:3200',
  version: '0.1.0',
};
