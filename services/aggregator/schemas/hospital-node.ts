// What the aggregator sends to and accepts from a hospital node (docs/protocol.md). Answers
// are checked against these schemas: a node is another party, not trusted code.
import { Type, type Static } from '@sinclair/typebox';
import {
  TrainAcceptedSchema,
  type ModelInput,
  type TrainRequest,
} from '../../../shared/protocol/train-request.ts';

/** POST /train and POST /evaluate bodies: the one schema of shared/protocol/train-request.ts. */
export type NodeModelInput = ModelInput;
export type NodeTrainRequest = TrainRequest;
export type NodePreprocessing = NonNullable<ModelInput['preprocessing']>;
export { TrainAcceptedSchema };

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
