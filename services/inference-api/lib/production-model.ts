/**
 * The aggregator's description of its production model, read tolerantly: the fedxray
 * aggregator answers shared/protocol/model-view.ts (ModelViewSchema, the contract both ends
 * share; test/inference-api/production-model.test.ts reads it field for field), and the
 * looser shapes below let another model registry stand in for it.
 *
 * Expected answer of GET {AGGREGATOR_URL}/models/production (200, application/json; 404 when
 * no model is in production yet):
 *
 *   {
 *     "id": "cm9x...",                      required, string
 *     "version": 3,                         integer (a numeric string is accepted); else null
 *     "roundIndex": 1,                      integer or null ("round" is accepted too)
 *     "sha256": "<64 lower-case hex>",      required: the weights blob's sha256 (manifest.sha256)
 *     "architecture": "se-resnet18-gn",     required, one of shared/model ARCHITECTURE_NAMES
 *     "inputSize": 64,                      else metadata.preprocessing.inputSize
 *     "width": 64,                          else metadata.width; else read from the weights
 *     "metadata": {
 *       "preprocessing": { "inputSize": 64, "normalization": "per-image", "equalize": false },
 *       "threshold": { "threshold": 0.5, "rule": "fixed:0.5", "description": "..." },
 *       "calibration": { "method": "temperature", "temperature": 1.8, ... },   optional
 *       "width": 64
 *     },
 *     ...                                   anything else (stage, metrics, createdAt) is ignored
 *   }
 *
 * Also accepted: the object wrapped as { "model": { ... } }; preprocessing, threshold and width
 * at the top level instead of under metadata; a threshold given as a plain number. Missing
 * normalisation defaults to per-image, equalize to false, threshold to 0.5.
 */
import { isArchitectureName, type ArchitectureName } from '../../../shared/model/architectures.ts';
import type { Preprocessing } from '../../../shared/training/preprocessing.ts';
import type { ModelCalibration } from '../schemas/model.ts';
import { readModelCalibration } from './probability-scale.ts';

export interface ProductionModel {
  id: string;
  version: number | null;
  round: number | null;
  sha256: string;
  architecture: ArchitectureName;
  inputSize: number;
  /** null: not stated; taken from the weights. */
  width: number | null;
  preprocessing: Preprocessing;
  threshold: number;
  thresholdRule: string | null;
  /** metadata.calibration's temperature; absent: the model reports raw probabilities. */
  calibration?: ModelCalibration;
}

export const DEFAULT_THRESHOLD = 0.5;

export class ProductionModelError extends Error {
  override name = 'ProductionModelError';
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integer(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function fail(message: string): never {
  throw new ProductionModelError(`the aggregator's production model ${message}`);
}

export function parseProductionModel(body: unknown): ProductionModel {
  const root = isRecord(body) && isRecord(body.model) ? body.model : body;
  if (!isRecord(root)) fail('is not a JSON object');
  const meta = isRecord(root.metadata) ? root.metadata : {};
  const pick = (key: string): unknown => root[key] ?? meta[key];

  const id = root.id;
  if (typeof id !== 'string' || id === '') fail('has no id');
  const sha256 = typeof root.sha256 === 'string' ? root.sha256.toLowerCase() : undefined;
  if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
    fail(`${id} has no valid sha256 (got ${JSON.stringify(root.sha256)})`);
  }
  const architecture = pick('architecture');
  if (typeof architecture !== 'string' || !isArchitectureName(architecture)) {
    fail(`${id} names an unknown architecture ${JSON.stringify(architecture)}`);
  }

  const pre = isRecord(pick('preprocessing')) ? (pick('preprocessing') as Json) : {};
  const inputSize = integer(root.inputSize) ?? integer(pre.inputSize) ?? integer(meta.inputSize);
  if (inputSize === undefined || inputSize < 32) fail(`${id} has no valid inputSize`);
  const preSize = integer(pre.inputSize);
  if (preSize !== undefined && preSize !== inputSize) {
    fail(`${id} says inputSize ${inputSize} but preprocessing.inputSize ${preSize}`);
  }
  const normalization = pre.normalization ?? 'per-image';
  if (normalization !== 'per-image' && normalization !== 'unit') {
    fail(`${id} has an unknown normalization ${JSON.stringify(normalization)}`);
  }

  const thresholdValue = pick('threshold');
  const threshold = isRecord(thresholdValue) ? thresholdValue.threshold : thresholdValue;
  if (threshold !== undefined && (typeof threshold !== 'number' || !Number.isFinite(threshold))) {
    fail(`${id} has an invalid threshold ${JSON.stringify(threshold)}`);
  }
  const rule = isRecord(thresholdValue) ? thresholdValue.rule : undefined;

  const width = integer(pick('width'));
  let calibration: ModelCalibration | undefined;
  try {
    calibration = readModelCalibration(pick('calibration'));
  } catch (error) {
    fail(`${id} has an ${(error as Error).message}`);
  }
  return {
    id,
    version: integer(root.version) ?? null,
    round: integer(root.roundIndex) ?? integer(root.round) ?? null,
    sha256,
    architecture,
    inputSize,
    width: width !== undefined && width > 0 ? width : null,
    preprocessing: { inputSize, normalization, equalize: pre.equalize === true },
    threshold: threshold ?? DEFAULT_THRESHOLD,
    thresholdRule: typeof rule === 'string' ? rule : threshold === undefined ? 'default:0.5' : null,
    ...(calibration ? { calibration } : {}),
  };
}
