import { Type, type Static } from '@sinclair/typebox';
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

export const ModelListSchema = Type.Object({ models: Type.Array(ModelViewSchema) });
export type ModelList = Static<typeof ModelListSchema>;
