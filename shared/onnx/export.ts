/**
 * ONNX export of fedxray networks, by our own walk of the tfjs LayersModel graph
 * (layer-ops.ts maps each layer). An ensemble becomes one graph: every member reads the same
 * transposed input and `probabilities` is the ONNX Mean of the members' softmax outputs, which
 * is the ensemble's own rule (mean P(PNEUMONIA)), so one file serves it anywhere.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readMemberMetadata } from '../model/ensemble.ts';
import { readModelMetadata, type ModelMetadata } from '../model/model-dir.ts';
import { SOFTWARE_VERSION } from '../service/version.ts';
import type { tf } from '../tf/tf.ts';
import { parseManifest } from '../weights/index.ts';
import { decodeModelSummary, encodeModel, GraphBuilder } from './graph.ts';
import { LAYER_OPS, type TensorRef } from './layer-ops.ts';

export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'probabilities';
export const ONNX_FILE = 'model.onnx';

/** What goes into metadata_props besides the graph. */
export interface OnnxModelInfo {
  modelId: string;
  sha256: string;
  architecture: string;
  width: number;
  preprocessing: ModelMetadata['preprocessing'];
  threshold: { threshold: number; rule?: string | null };
  calibration?: { method: 'temperature'; temperature: number };
  tta?: string;
}

const KEY = {
  format: 'fedxray.format',
  modelId: 'fedxray.model_id',
  sha256: 'fedxray.sha256',
  architecture: 'fedxray.architecture',
  width: 'fedxray.width',
  preprocessing: 'fedxray.preprocessing',
  threshold: 'fedxray.threshold',
  calibration: 'fedxray.calibration',
  tta: 'fedxray.tta',
  classes: 'fedxray.classes',
  members: 'fedxray.members',
  input: 'fedxray.input',
} as const;
const FORMAT = 'fedxray-onnx/1';

/** One member's nodes; returns the name of its softmax output ([N, 2]). */
function emitNetwork(
  graph: GraphBuilder,
  network: tf.LayersModel,
  input: string,
  prefix: string,
): string {
  const refs = new Map<string, TensorRef>();
  for (const layer of network.layers) {
    const className = layer.getClassName();
    if (layer.inboundNodes.length !== 1)
      throw new Error(
        `layer ${layer.name} is applied ${layer.inboundNodes.length} times: not supported`,
      );
    const outShape = layer.inboundNodes[0].outputTensors[0].shape;
    if (className === 'InputLayer') {
      refs.set(layer.name, { name: input, shape: outShape });
      continue;
    }
    const op = LAYER_OPS[className];
    if (!op) throw new Error(`layer ${layer.name}: ${className} has no ONNX mapping`);
    const inputs = layer.inboundNodes[0].inputTensors.map((t) => {
      const ref = refs.get(t.sourceLayer.name);
      if (!ref) throw new Error(`layer ${layer.name}: input ${t.sourceLayer.name} not emitted yet`);
      return ref;
    });
    const name = op({ graph, prefix }, layer, inputs, `${prefix}${layer.name}`);
    refs.set(layer.name, { name, shape: outShape });
  }
  if (network.outputs.length !== 1) throw new Error('only single-output networks are exported');
  const out = refs.get(network.outputs[0].sourceLayer.name);
  if (!out || out.shape.length !== 2 || out.shape[1] !== 2)
    throw new Error('the network must end in a [N, 2] softmax');
  return out.name;
}

function metadataProps(info: OnnxModelInfo, members: number, size: number): Record<string, string> {
  return {
    [KEY.format]: FORMAT,
    [KEY.modelId]: info.modelId,
    [KEY.sha256]: info.sha256,
    [KEY.architecture]: info.architecture,
    [KEY.width]: String(info.width),
    [KEY.preprocessing]: JSON.stringify(info.preprocessing),
    [KEY.threshold]: JSON.stringify({
      threshold: info.threshold.threshold,
      rule: info.threshold.rule ?? null,
    }),
    ...(info.calibration ? { [KEY.calibration]: JSON.stringify(info.calibration) } : {}),
    [KEY.tta]: info.tta ?? 'none',
    [KEY.classes]: JSON.stringify(['NORMAL', 'PNEUMONIA']),
    [KEY.members]: String(members),
    [KEY.input]: `NHWC float32 [N, ${size}, ${size}, 1], the preprocessed image (fedxray.preprocessing)`,
  };
}

/** The ONNX bytes of one network, or of an ensemble's members averaged in one graph. */
export function exportNetworksToOnnx(
  networks: readonly tf.LayersModel[],
  info: OnnxModelInfo,
): Uint8Array {
  if (networks.length === 0) throw new RangeError('nothing to export');
  const size = info.preprocessing.inputSize;
  const graph = new GraphBuilder();
  graph.unique(ONNX_INPUT);
  // The only layout change of the graph: NHWC (as tfjs and the decoder give it) to NCHW.
  const nchw = graph.op('Transpose', [ONNX_INPUT], 'image_nchw', { perm: [0, 3, 1, 2] });
  const outputs = networks.map((n, i) =>
    emitNetwork(graph, n, nchw, networks.length > 1 ? `m${i}/` : ''),
  );
  graph.op(networks.length > 1 ? 'Mean' : 'Identity', outputs, ONNX_OUTPUT);
  return encodeModel({
    graph,
    graphName: info.architecture.replace(/-/g, '_'),
    inputs: [{ name: ONNX_INPUT, dims: ['N', size, size, 1] }],
    outputs: [{ name: ONNX_OUTPUT, dims: ['N', 2] }],
    metadata: metadataProps(info, networks.length, size),
    docString: `fedxray ${info.architecture} (${networks.length} member${networks.length > 1 ? 's' : ''}): P(NORMAL), P(PNEUMONIA). Research use only.`,
    producerVersion: SOFTWARE_VERSION,
  });
}

/** metadata_props of an exported file, parsed back. */
export interface OnnxFileInfo extends OnnxModelInfo {
  members: number;
  classes: string[];
}

export function readOnnxInfo(bytes: Uint8Array): OnnxFileInfo {
  const m = decodeModelSummary(bytes).metadata;
  if (m[KEY.format] !== FORMAT)
    throw new Error(`not a fedxray ONNX export (format ${m[KEY.format] ?? 'none'})`);
  const json = <T>(key: string): T => JSON.parse(m[key] ?? 'null') as T;
  return {
    modelId: m[KEY.modelId],
    sha256: m[KEY.sha256],
    architecture: m[KEY.architecture],
    width: Number(m[KEY.width]),
    preprocessing: json(KEY.preprocessing),
    threshold: json(KEY.threshold),
    ...(m[KEY.calibration] ? { calibration: json(KEY.calibration) } : {}),
    tta: m[KEY.tta],
    members: Number(m[KEY.members]),
    classes: json(KEY.classes),
  };
}

/** A model directory's sha256 and id as the inference API computes them (directory-source.ts). */
export async function modelDirIdentity(dir: string): Promise<{ modelId: string; sha256: string }> {
  const metadata = await readModelMetadata(dir);
  const dirs = metadata.ensemble ? metadata.ensemble.members.map((m) => join(dir, m)) : [dir];
  const shas = await Promise.all(
    dirs.map(
      async (d) =>
        parseManifest(JSON.parse(await readFile(join(d, 'weights.json'), 'utf8'))).sha256,
    ),
  );
  const sha256 =
    shas.length === 1 ? shas[0] : createHash('sha256').update(shas.join('\n')).digest('hex');
  return { modelId: `local-${sha256.slice(0, 12)}`, sha256 };
}

/** The metadata an export of a model directory carries. */
export async function modelDirOnnxInfo(dir: string): Promise<OnnxModelInfo> {
  const metadata = await readModelMetadata(dir);
  if (metadata.ensemble) await readMemberMetadata(dir, metadata);
  const { modelId, sha256 } = await modelDirIdentity(dir);
  return {
    modelId,
    sha256,
    architecture: metadata.architecture,
    width: metadata.width,
    preprocessing: metadata.preprocessing,
    threshold: { threshold: metadata.threshold.threshold, rule: metadata.threshold.rule ?? null },
    ...(metadata.calibration
      ? {
          calibration: {
            method: 'temperature' as const,
            temperature: metadata.calibration.temperature,
          },
        }
      : {}),
    tta: metadata.tta ?? 'none',
  };
}
