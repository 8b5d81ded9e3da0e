/**
 * A small ONNX graph builder and its protobuf encoding. The messages are onnx-proto's
 * (protobufjs code generated from the official onnx.proto), so no wire format is written here.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/** IR version 8 (ONNX 1.10+) is what opset 17 needs; the schema onnx-proto ships is IR 8. */
export const ONNX_IR_VERSION = 8;
/** Opset 17 (ONNX 1.12): supported by onnxruntime >= 1.12, Triton's and KServe's runtimes. */
export const ONNX_OPSET = 17;

export type AttributeValue = number | number[] | string | { ints: number[] } | { float: number };

export interface ValueInfo {
  name: string;
  /** A string is a symbolic dimension (the batch). */
  dims: (number | string)[];
}

/** Builds one graph: nodes in topological order, float32 and int64 initializers. */
export class GraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly used = new Set<string>();

  /** A name not used yet in this graph, derived from `base`. */
  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node and returns its output names (one unless `outputs` > 1). */
  node(
    opType: string,
    inputs: string[],
    name: string,
    attributes: Record<string, AttributeValue> = {},
    outputs = 1,
  ): string[] {
    const nodeName = this.unique(name);
    const outputNames =
      outputs === 1 ? [nodeName] : Array.from({ length: outputs }, (_, i) => `${nodeName}:${i}`);
    for (const o of outputNames) this.used.add(o);
    this.nodes.push({
      opType,
      name: nodeName,
      input: inputs,
      output: outputNames,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return outputNames;
  }

  /** One-output node; returns the output's name. */
  op(
    opType: string,
    inputs: string[],
    name: string,
    attributes: Record<string, AttributeValue> = {},
  ): string {
    return this.node(opType, inputs, name, attributes)[0];
  }

  floatTensor(name: string, dims: number[], data: Float32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected)
      throw new Error(`initializer ${name}: ${data.length} values for dims ${dims.join('x')}`);
    const tensorName = this.unique(name);
    this.initializers.push({
      name: tensorName,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: littleEndianBytes(data),
    });
    return tensorName;
  }

  int64Tensor(name: string, values: number[]): string {
    const tensorName = this.unique(name);
    this.initializers.push({
      name: tensorName,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: littleEndianBytes(BigInt64Array.from(values, (v) => BigInt(v))),
    });
    return tensorName;
  }
}

function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return view.slice();
  // A big-endian host: ONNX raw_data is little-endian, so swap each element's bytes.
  const out = new Uint8Array(view.length);
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < view.length; i += width)
    for (let b = 0; b < width; b++) out[i + b] = view[i + width - 1 - b];
  return out;
}

function attribute(name: string, value: AttributeValue): OnnxTypes.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float } for floats`);
    return { name, type: AttributeType.INT, i: value };
  }
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: value.ints };
  return { name, type: AttributeType.FLOAT, f: value.float };
}

function valueInfo(info: ValueInfo): OnnxTypes.IValueInfoProto {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: {
          dim: info.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
        },
      },
    },
  };
}

export interface ModelSpec {
  graph: GraphBuilder;
  graphName: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** metadata_props: what a consumer needs besides the graph (preprocessing, threshold...). */
  metadata: Record<string, string>;
  docString?: string;
  producerVersion: string;
}

/** Encodes a whole model as ONNX protobuf bytes. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'fedxray',
    producerVersion: spec.producerVersion,
    docString: spec.docString ?? '',
    graph: {
      name: spec.graphName,
      node: spec.graph.nodes,
      initializer: spec.graph.initializers,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
    metadataProps: Object.entries(spec.metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** What an ONNX file says about itself, read back with the same schema. */
export interface DecodedModelSummary {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  metadata: Record<string, string>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  opTypes: string[];
}

export function decodeModelSummary(bytes: Uint8Array): DecodedModelSummary {
  const model = onnx.ModelProto.decode(bytes);
  const dims = (v: OnnxTypes.IValueInfoProto): (number | string)[] =>
    (v.type?.tensorType?.shape?.dim ?? []).map((d) =>
      d.dimParam ? d.dimParam : Number(d.dimValue ?? 0),
    );
  return {
    irVersion: Number(model.irVersion),
    opsets: model.opsetImport.map((o) => ({ domain: o.domain ?? '', version: Number(o.version) })),
    producerName: model.producerName,
    metadata: Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])),
    inputs: (model.graph?.input ?? []).map((v) => ({ name: v.name ?? '', dims: dims(v) })),
    outputs: (model.graph?.output ?? []).map((v) => ({ name: v.name ?? '', dims: dims(v) })),
    opTypes: [...new Set((model.graph?.node ?? []).map((n) => n.opType ?? ''))].sort(),
  };
}
