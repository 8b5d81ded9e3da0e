/**
 * Checks an export against the tfjs networks it came from: both score the same decoded
 * images (a folder's JPEG/PNG files, recursively; data/sample by default).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeXray } from '../data/image.ts';
import type { Preprocessing } from '../training/preprocessing.ts';
import type { BatchScorer } from '../training/predict.ts';
import { createOnnxScorer, type OrtModule } from './runtime.ts';

async function imageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await imageFiles(path)));
    else if (/\.(jpe?g|png)$/i.test(entry.name)) out.push(path);
  }
  return out;
}

/** The images of a folder, decoded as the model reads them, one after another. */
export async function decodeFolder(
  dir: string,
  preprocessing: Preprocessing,
): Promise<{ pixels: Float32Array; count: number }> {
  const files = await imageFiles(dir);
  const size = preprocessing.inputSize;
  const pixels = new Float32Array(files.length * size * size);
  for (const [i, f] of files.entries())
    pixels.set(
      await decodeXray(f, {
        size,
        normalization: preprocessing.normalization,
        equalize: preprocessing.equalize,
      }),
      i * size * size,
    );
  return { pixels, count: files.length };
}

export interface ParityReport {
  images: number;
  maxAbsDiff: number;
  meanAbsDiff: number;
  tfjsMs: number;
  onnxMs: number;
}

/** P(PNEUMONIA) of tfjs and of onnxruntime (1 thread) on the same images, in batches. */
export async function compareOnnx(
  ort: OrtModule,
  bytes: Uint8Array,
  tfjs: BatchScorer,
  images: { pixels: Float32Array; count: number },
  size: number,
  batch = 16,
): Promise<ParityReport> {
  const scorer = await createOnnxScorer(ort, bytes, 1);
  let max = 0;
  let sum = 0;
  let tfjsMs = 0;
  let onnxMs = 0;
  try {
    for (let start = 0; start < images.count; start += batch) {
      const n = Math.min(batch, images.count - start);
      const xs = images.pixels.subarray(start * size * size, (start + n) * size * size);
      let t = performance.now();
      const expected = tfjs(xs, n, size);
      tfjsMs += performance.now() - t;
      t = performance.now();
      const actual = await scorer.score(xs, n, size);
      onnxMs += performance.now() - t;
      for (let i = 0; i < n; i++) {
        const d = Math.abs(expected[i] - actual[i]);
        max = Math.max(max, d);
        sum += d;
      }
    }
  } finally {
    await scorer.release();
  }
  return {
    images: images.count,
    maxAbsDiff: max,
    meanAbsDiff: sum / Math.max(images.count, 1),
    tfjsMs,
    onnxMs,
  };
}
