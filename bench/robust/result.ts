/** The result file of one arm of the recipe study (bench/robust/results/<id>.json). */
import type { EvaluationJson } from '../../shared/cli/commands/evaluate.ts';
import type { GroupFigure } from '../../shared/metrics/groups.ts';
import type { CorruptionSuiteResult } from '../../shared/robustness/suite.ts';
import type { Arm } from './arms.ts';

export interface ArmResult {
  arm: Arm;
  /** The commands that made and scored the model. */
  commands: string[];
  machine: { cpus: number; cpu: string; memoryGiB: number };
  /** Training wall time (the sum of the rounds); null for an ensemble. */
  trainSeconds: number | null;
  /** null when the evaluation was taken from an earlier run's file. */
  evaluateSeconds: number | null;
  /** weights.bin bytes (of all members for an ensemble). */
  modelBytes: number;
  modelDir: string;
  evaluation: EvaluationJson & { groups: GroupFigure[]; corruption?: CorruptionSuiteResult };
  finishedAt: string;
}
