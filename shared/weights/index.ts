export type { NamedWeights, WeightsDtype, WeightsManifest, WeightsManifestEntry } from './types.ts';
export { WeightsFormatError, type WeightsErrorCode } from './errors.ts';
export { decodeWeights, encodeWeights, type EncodeWeightsOptions } from './codec.ts';
export { parseManifest } from './manifest.ts';
export { checkCompatible, type ExpectedWeight, type WeightsProblem } from './compat.ts';
export {
  loadWeights,
  loadWeightsWithManifest,
  saveWeights,
  WEIGHTS_BLOB_FILE,
  WEIGHTS_MANIFEST_FILE,
} from './store.ts';
export { sha256Hex } from './sha256.ts';
export {
  float16ToFloat32Array,
  float32ToFloat16Array,
  fromFloat16Bits,
  toFloat16Bits,
} from './float16.ts';
export { packWeights, unpackWeights, WEIGHTS_MEDIA_TYPE } from './envelope.ts';
export { openWeightsFile, type WeightsFile } from './weights-file.ts';
