/**
 * Serves diagnoses with onnxruntime-node when it is installed: each loaded model's tfjs
 * networks are exported to ONNX in memory (shared/onnx) and run in a CPU session; when the
 * package is absent, fails to load, or a model does not export or run the same, the model
 * keeps scoring on tfjs and the log says why. Grad-CAM stays on tfjs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { expandTta, meanOverVariants } from '../../../shared/model/tta.ts';
import { exportNetworksToOnnx, ONNX_FILE, readOnnxInfo } from '../../../shared/onnx/export.ts';
import {
  createOnnxScorer,
  loadOnnxRuntime,
  type AsyncBatchScorer,
  type OrtLoad,
} from '../../../shared/onnx/runtime.ts';
import { tf } from '../../../shared/tf/tf.ts';
import type { LoadedModel } from './loaded-model.ts';

export type InferRuntimeMode = 'auto' | 'onnxruntime' | 'tfjs';

/** How far onnxruntime may stray from tfjs on the warm-up image before it is not used. */
const WARM_UP_TOLERANCE = 1e-4;

export interface InferRuntimeOptions {
  mode: InferRuntimeMode;
  threads: number;
  log: FastifyBaseLogger;
  /** Imports onnxruntime-node (tests stand in an absent or broken one). */
  load?: () => Promise<OrtLoad>;
}

export interface InferRuntimeStatus {
  /** What scores the model in service ('onnxruntime' or 'tfjs-<backend>'), else what would. */
  inferRuntime: string;
  /** Why onnxruntime does not serve, when it does not. */
  inferRuntimeReason: string | null;
  onnxThreads: number;
}

export class InferRuntime {
  private reason: string | null = null;
  private lastRuntime: string | undefined;

  constructor(private readonly options: InferRuntimeOptions) {}

  /** Loads onnxruntime-node now, so /info is right before the first model is loaded. */
  async init(): Promise<void> {
    if (this.options.mode === 'tfjs') {
      this.reason = 'INFER_RUNTIME=tfjs';
      this.lastRuntime = `tfjs-${tf.getBackend()}`;
      return;
    }
    const ort = await (this.options.load ?? loadOnnxRuntime)();
    if (!ort.ok) {
      this.reason = ort.reason;
      this.lastRuntime = `tfjs-${tf.getBackend()}`;
    }
  }

  status(current: LoadedModel | undefined): InferRuntimeStatus {
    return {
      inferRuntime: current?.info.inferRuntime ?? this.lastRuntime ?? 'onnxruntime',
      inferRuntimeReason: this.reason,
      onnxThreads: this.options.threads,
    };
  }

  /**
   * The model scored by onnxruntime, or `loaded` itself (on tfjs). In 'onnxruntime' mode a
   * model onnxruntime cannot serve is an error (and `loaded` is disposed).
   */
  async prepare(loaded: LoadedModel, dir?: string): Promise<LoadedModel> {
    const { mode, log } = this.options;
    if (mode === 'tfjs') return this.onTfjs(loaded, 'INFER_RUNTIME=tfjs');
    let served: LoadedModel | string;
    try {
      served = await this.withOnnx(loaded, dir);
    } catch (error) {
      served = `onnxruntime failed on this model: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (typeof served !== 'string') {
      this.reason = null;
      this.lastRuntime = 'onnxruntime';
      log.info(
        { modelId: loaded.info.id, inferRuntime: 'onnxruntime', onnxThreads: this.options.threads },
        'diagnoses are scored with onnxruntime-node',
      );
      return served;
    }
    if (mode === 'onnxruntime') {
      loaded.dispose();
      throw new Error(`INFER_RUNTIME=onnxruntime: ${served}`);
    }
    return this.onTfjs(loaded, served);
  }

  private onTfjs(loaded: LoadedModel, reason: string): LoadedModel {
    this.reason = reason;
    this.lastRuntime = loaded.info.inferRuntime;
    this.options.log[this.options.mode === 'tfjs' ? 'info' : 'warn'](
      { modelId: loaded.info.id, inferRuntime: loaded.info.inferRuntime, reason },
      `diagnoses are scored with ${loaded.info.inferRuntime ?? 'tfjs'}`,
    );
    return loaded;
  }

  /**
   * `fedxray export`'s model.onnx beside model.json, when it is the export of these very
   * weights (its fedxray.sha256 and member count); otherwise the model is exported anew.
   */
  private async exportedFile(loaded: LoadedModel, dir: string): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, ONNX_FILE));
    } catch {
      return undefined;
    }
    const path = join(dir, ONNX_FILE);
    try {
      const file = readOnnxInfo(bytes);
      if (file.sha256 === loaded.info.sha256 && file.members === loaded.networks.length) {
        this.options.log.info({ path }, 'onnxruntime opens the model.onnx of MODEL_DIR');
        return bytes;
      }
      this.options.log.warn(
        { path, sha256: file.sha256 },
        `${ONNX_FILE} is of other weights: exporting anew`,
      );
    } catch (error) {
      this.options.log.warn(
        { path, reason: String(error) },
        `${ONNX_FILE} unreadable: exporting anew`,
      );
    }
    return undefined;
  }

  /** The model on onnxruntime, or why not. */
  private async withOnnx(loaded: LoadedModel, dir?: string): Promise<LoadedModel | string> {
    const ort = await (this.options.load ?? loadOnnxRuntime)();
    if (!ort.ok) return ort.reason;
    const { info } = loaded;
    const bytes =
      (dir && (await this.exportedFile(loaded, dir))) ||
      exportNetworksToOnnx(loaded.networks, {
        modelId: info.id,
        sha256: info.sha256,
        architecture: info.architecture,
        width: info.width,
        preprocessing: info.preprocessing,
        threshold: { threshold: info.threshold, rule: info.thresholdRule },
        ...(info.calibration ? { calibration: info.calibration } : {}),
        tta: loaded.tta,
      });
    const scorer = await createOnnxScorer(ort.ort, bytes, this.options.threads);
    const size = info.inputSize;
    const blank = new Float32Array(size * size);
    const [p] = await scorer.score(blank, 1, size);
    const [q] = loaded.score(blank, 1, size);
    if (!(Math.abs(p - q) <= WARM_UP_TOLERANCE)) {
      await scorer.release();
      return `the ONNX export scores a blank image ${p}, tfjs ${q}`;
    }
    const tta = loaded.tta;
    const score: AsyncBatchScorer =
      tta === 'none'
        ? scorer.score
        : async (xs, count, s) => {
            const { batch, variants } = expandTta(xs, count, s, tta);
            return meanOverVariants(
              await scorer.score(batch, count * variants, s),
              count,
              variants,
            );
          };
    let released = false;
    return {
      ...loaded,
      predict: score,
      info: { ...info, inferRuntime: 'onnxruntime' },
      explain: (pixels) => loaded.explain(pixels),
      dispose() {
        loaded.dispose();
        if (released) return;
        released = true;
        void scorer.release();
      },
    };
  }
}
