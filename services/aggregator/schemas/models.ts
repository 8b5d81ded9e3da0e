import { Type, type Static } from '@sinclair/typebox';
import { MODEL_VIEW_EXAMPLE } from '../../../shared/protocol/examples.ts';
import { ModelViewSchema } from '../../../shared/protocol/model-view.ts';

export {
  CalibrationBasisSchema,
  ModelMetadataSchema,
  ModelViewSchema,
  PreprocessingSchema,
  ThresholdSchema,
  type ModelMetadata,
  type ModelView,
} from '../../../shared/protocol/model-view.ts';

export const ModelListSchema = Type.Object(
  { models: Type.Array(ModelViewSchema) },
  { examples: [{ models: [MODEL_VIEW_EXAMPLE] }] },
);
export type ModelList = Static<typeof ModelListSchema>;
