import type { ModelVersion, Prisma } from '../../../shared/db/index.ts';
import type { TemperatureCalibration } from '../../../shared/metrics/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { ModelMetadata } from '../schemas/models.ts';
import type { RunSettings } from '../schemas/runs.ts';
import { audit, type Actor } from './audit.ts';
import { initialThreshold, type ModelThreshold } from './calibration.ts';
import { privacyAfter } from './run-privacy.ts';

type Tx = Prisma.TransactionClient;

/** Serialises version numbering between transactions. */
const VERSION_LOCK = 'fedxray:model-version';

/** What the inference-api needs besides the weights (docs/inference-api.md). */
export function modelMetadata(
  settings: RunSettings,
  threshold: ModelThreshold,
  calibration?: TemperatureCalibration,
  roundIndex = 0,
): Prisma.InputJsonObject {
  const privacy = privacyAfter(settings, roundIndex);
  const metadata: ModelMetadata = {
    preprocessing: { inputSize: settings.inputSize, normalization: 'per-image', equalize: false },
    threshold,
    ...(calibration ? { calibration } : {}),
    width: settings.width,
    // The guarantee the version was trained under: its round's epsilon.
    ...(privacy ? { privacy } : {}),
  };
  return JSON.parse(JSON.stringify(metadata)) as Prisma.InputJsonObject;
}

export interface NewModel {
  runId: string;
  roundIndex: number;
  sha256: string;
  sizeBytes: number;
  storagePath: string;
  settings: RunSettings;
  /** The version's decision threshold; by default the run's rule without data. */
  threshold?: ModelThreshold;
  /** Temperature scaling fitted on the round's evaluations; absent: raw probabilities. */
  calibration?: TemperatureCalibration;
  metrics?: Prisma.InputJsonObject;
}

/**
 * The model version with these weights: an existing one (content addressing: the same weights
 * are one version), else a new one numbered max + 1. Call inside a transaction.
 */
export async function findOrCreateModelVersion(tx: Tx, model: NewModel): Promise<ModelVersion> {
  const existing = await tx.modelVersion.findUnique({ where: { sha256: model.sha256 } });
  if (existing) return existing;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${VERSION_LOCK}, 0))`;
  const { _max } = await tx.modelVersion.aggregate({ _max: { version: true } });
  const version = (_max.version ?? 0) + 1;
  const created = await tx.modelVersion.create({
    data: {
      runId: model.runId,
      roundIndex: model.roundIndex,
      version,
      sha256: model.sha256,
      sizeBytes: model.sizeBytes,
      architecture: model.settings.architecture,
      inputSize: model.settings.inputSize,
      metadata: modelMetadata(
        model.settings,
        model.threshold ?? initialThreshold(model.settings.thresholdRule),
        model.calibration,
        model.roundIndex,
      ),
      metrics: model.metrics,
      storagePath: model.storagePath,
    },
  });
  // Keep the column's own sequence ahead, for rows inserted without a version.
  await tx.$executeRaw`SELECT setval(pg_get_serial_sequence('"ModelVersion"', 'version'), ${version})`;
  return created;
}

/** Puts a model into production; the previous production model is archived. */
export async function promoteModel(tx: Tx, modelId: string, actor: Actor): Promise<ModelVersion> {
  const model = await tx.modelVersion.findUnique({ where: { id: modelId } });
  if (!model) throw new HttpError(404, 'model-not-found', `no model ${modelId}`);
  if (model.stage === 'production') return model;
  const previous = await tx.modelVersion.findMany({
    where: { stage: 'production' },
    select: { id: true },
  });
  await tx.modelVersion.updateMany({ where: { stage: 'production' }, data: { stage: 'archived' } });
  const promoted = await tx.modelVersion.update({
    where: { id: modelId },
    data: { stage: 'production' },
  });
  await audit(tx, {
    actor,
    action: 'model.promoted',
    subjectType: 'model',
    subjectId: modelId,
    details: {
      version: promoted.version,
      sha256: promoted.sha256,
      archived: previous.map((p) => p.id),
    },
  });
  return promoted;
}
