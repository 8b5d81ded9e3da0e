/**
 * The `explain=true` part of a diagnosis: Grad-CAM of the loaded model on the decoded image,
 * rendered over the uploaded X-ray at its own width and height (shared/model/grad-cam.ts,
 * heatmap-png.ts).
 */
import { GradCamUnsupportedError, type GradCamMap } from '../../../shared/model/grad-cam.ts';
import { decodeBackdrop, renderHeatmapPng } from '../../../shared/model/heatmap-png.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { Explanation } from '../schemas/diagnose.ts';
import type { LoadedModel } from './loaded-model.ts';

/** `pixels` is the image as the model read it; `bytes` the upload the heatmap is drawn over. */
export async function explainDiagnosis(
  loaded: LoadedModel,
  pixels: Float32Array,
  bytes: Buffer,
): Promise<Explanation> {
  const started = performance.now();
  let cam: GradCamMap;
  try {
    cam = loaded.explain(pixels);
  } catch (error) {
    if (error instanceof GradCamUnsupportedError) {
      throw new HttpError(
        409,
        'explain-unsupported',
        `model ${loaded.info.id} (${loaded.info.architecture}) cannot be explained with ` +
          `Grad-CAM: ${error.message}`,
      );
    }
    throw error;
  }
  const backdrop = await decodeBackdrop(bytes);
  const png = await renderHeatmapPng(backdrop, cam);
  return {
    method: 'grad-cam',
    layer: cam.layer,
    grid: { width: cam.width, height: cam.height },
    width: backdrop.width,
    height: backdrop.height,
    heatmapPng: png.toString('base64'),
    timingMs: Math.round((performance.now() - started) * 100) / 100,
  };
}
