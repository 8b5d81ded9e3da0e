/** How an image becomes model input; stored with every model so inference matches training. */
export interface Preprocessing {
  inputSize: number;
  normalization: 'per-image' | 'unit';
  equalize: boolean;
}

export function defaultPreprocessing(inputSize: number): Preprocessing {
  return { inputSize, normalization: 'per-image', equalize: false };
}
