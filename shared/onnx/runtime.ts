/**
 * onnxruntime-node, when it is installed (an optional dependency): loaded once, guarded, and
 * typed by the few calls used here, so the project builds and runs without it.
 */
import { ONNX_INPUT, ONNX_OUTPUT } from './export.ts';

export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtSessionOptions {
  executionProviders: string[];
  intraOpNumThreads: number;
  interOpNumThreads: number;
  graphOptimizationLevel: 'all';
  executionMode: 'sequential';
}

/** The part of onnxruntime-node's API fedxray uses. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

export type OrtLoad = { ok: true; ort: OrtModule; version: string } | { ok: false; reason: string };

const PACKAGE = 'onnxruntime-node';
let cached: Promise<OrtLoad> | undefined;

/**
 * onnxruntime-node 1.30's native library reports usage telemetry (Microsoft's 1DS collector,
 * mobile.events.data.microsoft.com) unless ORT_DISABLE_TELEMETRY is set: the inference API
 * looked that host up at every model load (seen with strace; no lookup with the variable set,
 * and the same answers). fedxray sends nothing anywhere it was not asked to, so the
 * variable is set before the library loads, unless the operator set it already.
 */
export const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/** Imports onnxruntime-node once; never throws (the reason says why it is unavailable). */
export function loadOnnxRuntime(): Promise<OrtLoad> {
  cached ??= (async (): Promise<OrtLoad> => {
    process.env[ORT_TELEMETRY_VARIABLE] ??= '1';
    try {
      // A variable specifier: the package is optional and tsc must not need it.
      const specifier = PACKAGE;
      const mod = (await import(specifier)) as { default?: unknown } & Record<string, unknown>;
      const ort = (mod.InferenceSession ? mod : mod.default) as OrtModule & {
        env?: { versions?: { node?: string } };
      };
      if (typeof ort?.InferenceSession?.create !== 'function')
        throw new Error('no InferenceSession');
      return { ok: true, ort, version: ort.env?.versions?.node ?? 'unknown' };
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      return {
        ok: false,
        reason:
          code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
            ? `${PACKAGE} is not installed`
            : `${PACKAGE} failed to load: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  })();
  return cached;
}

/** P(PNEUMONIA) for a batch, asynchronously (onnxruntime runs off the event loop). */
export type AsyncBatchScorer = (
  xs: Float32Array,
  count: number,
  size: number,
) => Promise<Float32Array>;

export interface OnnxScorer {
  score: AsyncBatchScorer;
  release(): Promise<void>;
}

/** A CPU session of an exported fedxray model; `threads` intra-op threads. */
export async function createOnnxScorer(
  ort: OrtModule,
  bytes: Uint8Array,
  threads: number,
): Promise<OnnxScorer> {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  return {
    async score(xs, count, size) {
      const out = await session.run({
        [ONNX_INPUT]: new ort.Tensor('float32', xs.subarray(0, count * size * size), [
          count,
          size,
          size,
          1,
        ]),
      });
      const probabilities = out[ONNX_OUTPUT];
      if (!probabilities || !(probabilities.data instanceof Float32Array))
        throw new Error(`the session gave no float32 ${ONNX_OUTPUT}`);
      const p = new Float32Array(count);
      for (let i = 0; i < count; i++) p[i] = probabilities.data[i * 2 + 1];
      return p;
    },
    release: () => session.release(),
  };
}
