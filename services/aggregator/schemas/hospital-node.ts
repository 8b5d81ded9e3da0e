// What the aggregator sends to and accepts from a hospital node (docs/protocol.md). Answers
// are checked against these schemas: a node is another party, not trusted code.
import { Type, type Static } from '@sinclair/typebox';
import type { ArchitectureName } from '../../../shared/model/architectures.ts';

export interface NodePreprocessing {
  inputSize: number;
  normalization: 'per-image' | 'unit';
  equalize: boolean;
}

export interface NodeModelInput {
  model: { id: string; sha256: string };
  architecture: ArchitectureName;
  inputSize: number;
  width: number;
  preprocessing: NodePreprocessing;
}

export interface NodeTrainRequest extends NodeModelInput {
  runId: string;
  round: number;
  settings: { epochs: number; batchSize: number; learningRate: number; seed: number };
  schedule: { startEpoch: number; totalEpochs: number };
}

export const TrainAcceptedSchema = Type.Object({ jobId: Type.String({ minLength: 1 }) });

export const NodeJobSchema = Type.Object({
  status: Type.String(),
  error: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type NodeJob = Static<typeof NodeJobSchema>;

export { EvaluationSchema, type Evaluation } from '../../../shared/protocol/evaluation.ts';
