/**
 * The site's threshold overrides (PUT /models/current/threshold), one per model and keyed to
 * the sha256 of its weights: another model never inherits them. Kept in
 * STATE_DIR/operating-point.json; every change is first appended to
 * STATE_DIR/operating-point-audit.jsonl.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../../shared/service/config.ts';
import type { LoadedModelInfo, ModelInfo } from '../schemas/model.ts';
import {
  OperatingPointFileSchema,
  type OperatingPointBasis,
  type OperatingPointFile,
  type OperatingPointRecord,
  type OperatingPointView,
} from '../schemas/operating-point.ts';

export const OPERATING_POINT_FILE = 'operating-point.json';
export const OPERATING_POINT_AUDIT_FILE = 'operating-point-audit.jsonl';

/** What the store needs to know of a model. */
export interface ThresholdModel {
  id: string;
  sha256: string;
  /** The model's own threshold. */
  threshold: number;
}

/** Who made a change: never the token itself. */
export interface ChangeActor {
  ip: string;
  /** The first 8 hex digits of the token's sha256. */
  tokenSha256Prefix: string;
}

export interface ThresholdState {
  /** The threshold /diagnose labels with. */
  threshold: number;
  modelThreshold: number;
  thresholdSource: 'model' | 'site';
  operatingPoint: OperatingPointView | null;
}

/** One line of the audit file. */
export interface OperatingPointAuditEntry {
  time: string;
  action: 'set' | 'clear';
  modelId: string;
  sha256: string;
  /** The threshold in force before and after the change. */
  oldThreshold: number;
  newThreshold: number;
  reason: string | null;
  basis: OperatingPointBasis | null;
  by: ChangeActor;
}

export interface SetOperatingPoint {
  threshold: number;
  reason: string;
  basis?: OperatingPointBasis;
}

export class OperatingPointStore {
  private readonly file: string;
  private readonly auditFile: string;
  private models: Record<string, OperatingPointRecord>;

  /** Reads STATE_DIR's file now: a corrupt one is a ConfigError naming it. */
  constructor(
    private readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.file = join(dir, OPERATING_POINT_FILE);
    this.auditFile = join(dir, OPERATING_POINT_AUDIT_FILE);
    this.models = readOperatingPoints(this.file);
  }

  state(model: ThresholdModel): ThresholdState {
    const record = this.models[model.sha256];
    if (!record) {
      return {
        threshold: model.threshold,
        modelThreshold: model.threshold,
        thresholdSource: 'model',
        operatingPoint: null,
      };
    }
    const { threshold, setAt, reason, basis } = record;
    return {
      threshold,
      modelThreshold: model.threshold,
      thresholdSource: 'site',
      operatingPoint: { threshold, setAt, reason, basis },
    };
  }

  /** GET /models/current's answer: the model with the threshold in force. */
  describe(info: LoadedModelInfo): ModelInfo {
    return { ...info, ...this.state(info) };
  }

  threshold(model: ThresholdModel): number {
    return this.state(model).threshold;
  }

  set(model: ThresholdModel, change: SetOperatingPoint, by: ChangeActor): OperatingPointAuditEntry {
    const time = this.now().toISOString();
    const record: OperatingPointRecord = {
      threshold: change.threshold,
      setAt: time,
      reason: change.reason,
      basis: change.basis ?? null,
      modelId: model.id,
      sha256: model.sha256,
    };
    const entry: OperatingPointAuditEntry = {
      time,
      action: 'set',
      modelId: model.id,
      sha256: model.sha256,
      oldThreshold: this.threshold(model),
      newThreshold: change.threshold,
      reason: change.reason,
      basis: record.basis,
      by,
    };
    this.commit({ ...this.models, [model.sha256]: record }, entry);
    return entry;
  }

  /** Back to the model's own threshold; undefined (nothing written) when none was set. */
  clear(
    model: ThresholdModel,
    reason: string | null,
    by: ChangeActor,
  ): OperatingPointAuditEntry | undefined {
    const record = this.models[model.sha256];
    if (!record) return undefined;
    const entry: OperatingPointAuditEntry = {
      time: this.now().toISOString(),
      action: 'clear',
      modelId: model.id,
      sha256: model.sha256,
      oldThreshold: record.threshold,
      newThreshold: model.threshold,
      reason,
      basis: null,
      by,
    };
    const { [model.sha256]: _cleared, ...rest } = this.models;
    this.commit(rest, entry);
    return entry;
  }

  /**
   * The audit line first, so no change is in force without one; then the file, replaced by
   * a rename so a crash leaves the old or the new one, never half of either. Synchronous:
   * changes are rare, and two requests then never interleave their writes.
   */
  private commit(models: Record<string, OperatingPointRecord>, entry: OperatingPointAuditEntry) {
    mkdirSync(this.dir, { recursive: true });
    appendFileSync(this.auditFile, JSON.stringify(entry) + '\n');
    const content: OperatingPointFile = {
      format: 'fedxray-operating-points',
      version: 1,
      models,
    };
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(content, null, 2) + '\n');
    renameSync(temp, this.file);
    this.models = models;
  }
}

function readOperatingPoints(file: string): Record<string, OperatingPointRecord> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`STATE_DIR: ${file} cannot be read: ${(error as Error).message}`);
  }
  const bad = (why: string) =>
    new ConfigError(
      `STATE_DIR: ${file} is not a valid operating-point file (${why}); restore it from a backup ` +
        `or remove it (the changes are in ${OPERATING_POINT_AUDIT_FILE})`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw bad((error as Error).message);
  }
  if (!Value.Check(OperatingPointFileSchema, parsed)) {
    const [first] = Value.Errors(OperatingPointFileSchema, parsed);
    throw bad(first ? `${first.path || '/'}: ${first.message}` : 'unexpected content');
  }
  for (const [sha256, record] of Object.entries(parsed.models)) {
    if (record.sha256 !== sha256) throw bad(`the entry under ${sha256} is for ${record.sha256}`);
  }
  return parsed.models;
}
