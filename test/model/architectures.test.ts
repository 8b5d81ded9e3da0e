import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURE_NAMES, buildModel } from '../../shared/model/architectures.ts';
import { getModelWeights, setModelWeights } from '../../shared/model/model-weights.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';

beforeAll(useTestBackend);

function countLayers(model: tf.LayersModel, className: string, namePart = ''): number {
  return model.layers.filter((l) => l.getClassName() === className && l.name.includes(namePart))
    .length;
}

describe('architectures', () => {
  it("se-resnet18-gn is the paper's network: 17 conv + 1 dense, GroupNorm G=16, SE r=16", () => {
    const model = buildModel('se-resnet18-gn', { inputSize: 64 });
    // 11,260,346 weights with a 1-channel input and 2 classes (also given in ../shared/NOTES.md).
    expect(model.countParams()).toBe(11_260_346);
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
    expect(convs.filter((l) => !l.name.endsWith('_proj'))).toHaveLength(17);
    expect(convs.filter((l) => l.name.endsWith('_proj'))).toHaveLength(3);
    expect(countLayers(model, 'BatchNormalization')).toBe(0);
    expect(countLayers(model, 'GroupNormalization')).toBe(17 + 3);
    expect(countLayers(model, 'Multiply', '_se_scale')).toBe(8);
    const stemConv = model.getLayer('stem_conv') as unknown as {
      kernelSize: number[];
      strides: number[];
      filters: number;
    };
    expect(stemConv.kernelSize).toEqual([7, 7]);
    expect(stemConv.strides).toEqual([2, 2]);
    expect(stemConv.filters).toBe(64);
    const reduce = model.getLayer('stage4_block2_se_reduce') as unknown as { units: number };
    expect(reduce.units).toBe(512 / 16);
    expect(model.outputs[0].shape).toEqual([null, 2]);
    model.dispose();
  });

  it('the baselines build with the expected shapes', () => {
    const counts: Record<string, number> = {};
    for (const name of ARCHITECTURE_NAMES) {
      const model = buildModel(name, { inputSize: 64, width: 16 });
      expect(model.inputs[0].shape).toEqual([null, 64, 64, 1]);
      expect(model.outputs[0].shape).toEqual([null, 2]);
      counts[name] = model.countParams();
      model.dispose();
    }
    expect(counts['se-resnet18-bn']).toBeGreaterThan(counts.resnet18);
    const bn = buildModel('se-resnet18-bn', { inputSize: 32, width: 16 });
    expect(countLayers(bn, 'BatchNormalization')).toBe(20);
    bn.dispose();
  });

  it('weight names are stable across instances, so weights move between models', () => {
    const a = buildModel('se-resnet18-gn', { inputSize: 32, width: 8, seed: 1 });
    const b = buildModel('se-resnet18-gn', { inputSize: 32, width: 8, seed: 2 });
    const wa = getModelWeights(a);
    expect(wa.map((w) => w.name)).toEqual(getModelWeights(b).map((w) => w.name));
    expect(new Set(wa.map((w) => w.name)).size).toBe(wa.length);
    setModelWeights(b, wa);
    const x = tf.randomNormal([2, 32, 32, 1], 0, 1, 'float32', 9);
    expect(Array.from((b.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((a.predict(x) as tf.Tensor).dataSync()),
    );
    a.dispose();
    b.dispose();
  });

  it('each residual branch starts as zero: its last norm has scale 0, the others 1', () => {
    const model = buildModel('se-resnet18-gn', { inputSize: 32, width: 16 });
    const gamma = (layer: string) => Array.from(model.getLayer(layer).getWeights()[0].dataSync());
    expect(new Set(gamma('stage3_block2_norm2'))).toEqual(new Set([0]));
    expect(new Set(gamma('stage3_block2_norm1'))).toEqual(new Set([1]));
    expect(new Set(gamma('stage3_block1_proj_norm'))).toEqual(new Set([1]));
    model.dispose();
  });

  it('the same seed gives the same initial weights', () => {
    const a = getModelWeights(buildModel('se-resnet18-gn', { inputSize: 32, width: 8, seed: 5 }));
    const b = getModelWeights(buildModel('se-resnet18-gn', { inputSize: 32, width: 8, seed: 5 }));
    expect(Array.from(a[0].data)).toEqual(Array.from(b[0].data));
  });

  it('refuses weights of the wrong shape without changing the model', () => {
    const model = buildModel('se-resnet18-gn', { inputSize: 32, width: 8 });
    const weights = getModelWeights(model);
    const before = Array.from(weights[0].data);
    const bad = weights.map((w, i) =>
      i === 0 ? { ...w, shape: [1, 2, 3], data: new Float32Array(6) } : w,
    );
    expect(() => setModelWeights(model, bad)).toThrow(/stem_conv\/kernel: shape 1x2x3/);
    expect(() => setModelWeights(model, weights.slice(1))).toThrow(/missing stem_conv\/kernel/);
    expect(Array.from(getModelWeights(model)[0].data)).toEqual(before);
    model.dispose();
  });

  it('rejects unknown architectures and tiny inputs with a clear message', () => {
    expect(() => buildModel('resnet50', { inputSize: 64 })).toThrow(
      /Unknown architecture "resnet50"/,
    );
    expect(() => buildModel('se-resnet18-gn', { inputSize: 16 })).toThrow(/at least 32/);
  });
});
