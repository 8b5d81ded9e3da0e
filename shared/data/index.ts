/** Public API of the data layer: plain typed arrays in, plain typed arrays out (no tfjs). */
export {
  DEFAULT_NORMALIZATION,
  EQUALIZATION_DESCRIPTION,
  IMAGE_DECODE_STATUS,
  ImageDecodeError,
  MAX_IMAGE_PIXELS,
  MIN_IMAGE_SIDE,
  NORMALIZATION_DESCRIPTIONS,
  PER_IMAGE_EPSILON,
  decodeGray8,
  decodeGray8Image,
  decodeXray,
  decodeXrayImage,
  normalizePixels,
  readImageInfo,
} from './image.ts';
export type {
  DecodedGray8,
  DecodeOptions,
  ImageDecodeErrorCode,
  ImageInfo,
  Normalization,
  SupportedFormat,
} from './image.ts';
export { decodeDicom, isDicom, readDicomSummary } from './dicom.ts';
export type { DicomGray8, DicomSummary } from './dicom.ts';
export {
  DatasetError,
  IMAGE_EXTENSIONS,
  LABEL_NAMES,
  MANIFEST_FILE,
  formatSummary,
  labelFromName,
  loadDataset,
  sortRecords,
  summarize,
} from './dataset.ts';
export type {
  DatasetSummary,
  Label,
  LabelName,
  LoadDatasetOptions,
  XrayRecord,
} from './dataset.ts';
export { patientIdFromFileName } from './patient-id.ts';
export { countImages, groupByPatient, patientsByClass } from './patients.ts';
export type { PatientGroup } from './patients.ts';
export { splitByPatient } from './split.ts';
export type { SplitOptions, TrainValSplit } from './split.ts';
export { DEFAULT_DIRICHLET_ALPHA, partitionByPatient } from './partition.ts';
export type { PartitionOptions, PartitionScheme } from './partition.ts';
export {
  AUGMENT_POLICIES,
  DEFAULT_AUGMENT,
  applyAugment,
  augmentImage,
  drawAugmentParams,
  resolveAugmentOptions,
} from './augment.ts';
export type {
  AugmentFill,
  AugmentOptions,
  AugmentParams,
  AugmentPolicy,
  ResolvedAugmentOptions,
} from './augment.ts';
export {
  DEFAULT_BALANCING,
  balancedSampleOrder,
  classCounts,
  classWeights,
  classWeightsFromCounts,
  pooledClassWeights,
} from './class-balance.ts';
export type { BalancingMethod } from './class-balance.ts';
export { DEFAULT_CACHE_BYTES, ImageCache } from './image-cache.ts';
export type { ImageCacheStats } from './image-cache.ts';
export { DEFAULT_DECODE_CONCURRENCY, DEFAULT_PREFETCH, streamBatches } from './batches.ts';
export type { Batch, BatchStreamOptions } from './batches.ts';
export { SAMPLE_DATA_DIR, SAMPLE_PER_CLASS } from './sample.ts';
