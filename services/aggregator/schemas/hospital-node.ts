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
  settings: {
    epochs: number;
    batchSize: number;
    learningRate: number;
    seed: number;
    /** Sent only when the run has it: each local epoch stops after this many steps. */
    maxStepsPerEpoch?: number;
    /** Sent only when the run has mu > 0: FedProx's proximal term. */
    proximalMu?: number;
    /** Sent only when the run's policy is not the nodes' default ('light'). */
    augmentPolicy?: 'strong';
    /** Sent with classWeights only: the loss is class-weighted, by those weights. */
    classBalancing?: 'weights';
    /** A federation run's [NORMAL, PNEUMONIA] weights, instead of the node's own. */
    classWeights?: [number, number];
  };
  schedule: { startEpoch: number; totalEpochs: number };
}

export const TrainAcceptedSchema = Type.Object({ jobId: Type.String({ minLength: 1 }) });

const CountSchema = Type.Integer({ minimum: 0 });

/** What the aggregator reads of GET /info: the class counts of the images the node trains on. */
export const NodeInfoSchema = Type.Object({
  splits: Type.Object({
    train: Type.Object({ NORMAL: CountSchema, PNEUMONIA: CountSchema }),
  }),
});
export type NodeInfo = Static<typeof NodeInfoSchema>;

export const NodeJobSchema = Type.Object({
  status: Type.String(),
  error: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type NodeJob = Static<typeof NodeJobSchema>;

export { EvaluationSchema, type Evaluation } from '../../../shared/protocol/evaluation.ts';
