/**
 * Installs the composed training kernels on the wasm backend. Call after
 * `@tensorflow/tfjs-backend-wasm` has been imported; safe to call more than once, also from a
 * second copy of this module (the kernel registry is global, so the mark lives on the kernel).
 */
import { tf } from '../tf.ts';
import { makeConv2dBackpropFilter } from './conv2d-backprop-filter.ts';
import { makeConv2dBackpropInput } from './conv2d-backprop-input.ts';

const BACKEND = 'wasm';
const COMPOSED = ['Conv2DBackpropFilter', 'Conv2DBackpropInput'] as const;
export type ComposedKernelName = (typeof COMPOSED)[number];

/** Set on our kernelFuncs: the wasm kernel each replaced (null where wasm had none). */
const REPLACED = Symbol.for('fedxray.wasm-kernels.replaced');
type MarkedKernelFunc = tf.KernelFunc & { [REPLACED]?: tf.KernelConfig | null };

const originals = new Map<string, tf.KernelConfig>();

function composedConfig(
  name: ComposedKernelName,
  original: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc: MarkedKernelFunc =
    name === 'Conv2DBackpropFilter'
      ? makeConv2dBackpropFilter()
      : makeConv2dBackpropInput(original?.kernelFunc);
  kernelFunc[REPLACED] = original ?? null;
  // Keeps the original's setupFunc: the NCHW fallback needs the function it binds.
  return { ...original, kernelName: name, backendName: BACKEND, kernelFunc };
}

export function registerWasmTrainingKernels(): ComposedKernelName[] {
  if (tf.findBackendFactory(BACKEND) === null) {
    throw new Error('register wasm kernels: @tensorflow/tfjs-backend-wasm is not loaded');
  }
  for (const name of COMPOSED) {
    const existing = tf.getKernel(name, BACKEND);
    const replaced = (existing?.kernelFunc as MarkedKernelFunc | undefined)?.[REPLACED];
    if (replaced !== undefined) {
      if (replaced !== null) originals.set(name, replaced);
      continue; // already ours
    }
    if (existing !== undefined) {
      originals.set(name, existing);
      tf.unregisterKernel(name, BACKEND);
    }
    tf.registerKernel(composedConfig(name, existing));
  }
  return [...COMPOSED];
}

/** The wasm backend's own kernel that a composed one replaced, if it had one. */
export function getOriginalWasmKernel(name: string): tf.KernelFunc | undefined {
  return originals.get(name)?.kernelFunc;
}
