/**
 * The small sample of real chest X-rays shipped in data/sample (60 NORMAL + 60 PNEUMONIA
 * training images, one per patient, CC BY 4.0; see data/sample/ATTRIBUTION.md). Made by
 * scripts/make-sample.ts. Load it with loadDataset(SAMPLE_DATA_DIR).
 */
import { fileURLToPath } from 'node:url';

export const SAMPLE_DATA_DIR: string = fileURLToPath(new URL('../../data/sample', import.meta.url));
export const SAMPLE_PER_CLASS = 60;
