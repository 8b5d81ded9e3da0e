import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_DATA_DIR } from '../../data/sample.ts';
import { ensembleScorer, loadPredictorDir } from '../../model/ensemble.ts';
import { exportNetworksToOnnx, modelDirOnnxInfo, ONNX_FILE } from '../../onnx/export.ts';
import { compareOnnx, decodeFolder } from '../../onnx/parity.ts';
import { loadOnnxRuntime } from '../../onnx/runtime.ts';
import { initBackend } from '../../tf/backend.ts';
import { choiceOpt, flag, parseCommandArgs, stringOpt, UsageError } from '../options.ts';
import { info, printJson } from '../output.ts';

export const EXPORT_HELP = `fedxray export --model DIR --format onnx [--out FILE] [--verify [--data DIR]] [--json]
  Writes the model (or an ensemble, as one graph averaging its members) as ONNX, opset 17:
  input 'image' NHWC float32 [N, S, S, 1] (the preprocessed image), output 'probabilities'
  [N, 2] (NORMAL, PNEUMONIA); preprocessing, threshold, model id and sha256 in metadata_props.
  Default --out: DIR/model.onnx. --verify scores the images of --data (default data/sample)
  with tfjs and onnxruntime-node and fails when they differ by more than 1e-4.`;

const TOLERANCE = 1e-4;

export async function exportCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    model: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    verify: { type: 'boolean' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  });
  choiceOpt(args, 'format', ['onnx'] as const, 'onnx');
  const dir = stringOpt(args, 'model');
  const out = stringOpt(args, 'out', join(dir, ONNX_FILE));
  if (args.values.data !== undefined && !flag(args, 'verify'))
    throw new UsageError('--data needs --verify');
  await initBackend();
  const predictor = await loadPredictorDir(dir, { tta: 'none' });
  try {
    const modelInfo = await modelDirOnnxInfo(dir);
    const started = performance.now();
    const bytes = exportNetworksToOnnx(predictor.networks, modelInfo);
    const exportMs = performance.now() - started;
    const tmp = `${out}.partial`;
    await writeFile(tmp, bytes);
    await rename(tmp, out);
    const result: Record<string, unknown> = {
      out,
      bytes: bytes.length,
      members: predictor.networks.length,
      modelId: modelInfo.modelId,
      sha256: modelInfo.sha256,
      exportMs: Math.round(exportMs),
    };
    let ok = true;
    if (flag(args, 'verify')) {
      const ort = await loadOnnxRuntime();
      if (!ort.ok) throw new Error(`--verify needs onnxruntime-node: ${ort.reason}`);
      const size = modelInfo.preprocessing.inputSize;
      const images = await decodeFolder(
        stringOpt(args, 'data', SAMPLE_DATA_DIR),
        modelInfo.preprocessing,
      );
      if (images.count === 0) throw new Error('no JPEG or PNG images to verify with');
      const parity = await compareOnnx(
        ort.ort,
        bytes,
        ensembleScorer(predictor.networks),
        images,
        size,
      );
      ok = parity.maxAbsDiff <= TOLERANCE;
      result.verify = { ...parity, tolerance: TOLERANCE, ok, onnxruntime: ort.version };
    }
    if (flag(args, 'json')) printJson(result);
    else {
      info(
        `${out}: ${(bytes.length / 2 ** 20).toFixed(1)} MiB, ${predictor.networks.length} member(s), model ${modelInfo.modelId}`,
      );
      const v = result.verify as { images: number; maxAbsDiff: number } | undefined;
      if (v)
        info(
          `verify: max |p_onnx - p_tfjs| = ${v.maxAbsDiff.toExponential(2)} over ${v.images} images (${ok ? 'ok' : `over ${TOLERANCE}`})`,
        );
    }
    return ok ? 0 : 1;
  } finally {
    predictor.dispose();
  }
}
