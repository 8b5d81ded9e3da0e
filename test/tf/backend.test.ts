import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tf } from '../../shared/tf/tf.ts';

type BackendModule = typeof import('../../shared/tf/backend.ts');

/** A fresh copy of backend.ts (its cache is module state); tfjs itself stays loaded. */
async function freshBackendModule(): Promise<BackendModule> {
  vi.resetModules();
  return import('../../shared/tf/backend.ts');
}

describe('initBackend', () => {
  const saved = { backend: process.env.TFJS_BACKEND, quiet: process.env.FEDXRAY_QUIET };

  beforeEach(() => {
    delete process.env.TFJS_BACKEND;
    delete process.env.FEDXRAY_QUIET;
  });

  afterEach(() => {
    vi.restoreAllMocks();
    for (const [key, value] of [
      ['TFJS_BACKEND', saved.backend],
      ['FEDXRAY_QUIET', saved.quiet],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('picks wasm here (the native packages are absent), with its training kernels', async () => {
    const { initBackend, getBackendInfo } = await freshBackendModule();
    const lines: string[] = [];
    expect(getBackendInfo()).toBeUndefined();
    const info = await initBackend({ log: (line) => lines.push(line) });
    expect(info).toMatchObject({
      name: 'wasm',
      source: '@tensorflow/tfjs-backend-wasm',
      threads: 1,
    });
    expect(typeof info.simd).toBe('boolean');
    expect(info.fallbackReason).toMatch(/tfjs-node-gpu is not installed/);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(lines).toEqual([
      `[fedxray] tfjs backend: wasm (${info.simd ? 'simd' : 'no simd'}, 1 thread)`,
    ]);
  });

  it('caches: later and concurrent calls return the same info and log nothing more', async () => {
    const { initBackend, getBackendInfo } = await freshBackendModule();
    const log = vi.fn();
    const [a, b] = await Promise.all([initBackend({ log }), initBackend({ log })]);
    const c = await initBackend({ log, preferred: 'cpu' });
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(getBackendInfo()).toBe(a);
    expect(log).toHaveBeenCalledTimes(1);
  });

  it('honours TFJS_BACKEND=cpu', async () => {
    process.env.TFJS_BACKEND = 'cpu';
    const { initBackend } = await freshBackendModule();
    const info = await initBackend({ log: () => {} });
    expect(info).toEqual({ name: 'cpu', source: '@tensorflow/tfjs-backend-cpu' });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('lets options.preferred win over TFJS_BACKEND', async () => {
    process.env.TFJS_BACKEND = 'cpu';
    const { initBackend } = await freshBackendModule();
    expect((await initBackend({ preferred: 'wasm', log: () => {} })).name).toBe('wasm');
  });

  it('fails clearly when the requested backend cannot load, and can then retry', async () => {
    process.env.TFJS_BACKEND = 'tensorflow';
    const { initBackend } = await freshBackendModule();
    await expect(initBackend({ log: () => {} })).rejects.toThrow(
      /'tensorflow' was requested \(TFJS_BACKEND\).*tfjs-node-gpu is not installed.*tfjs-node is not installed/,
    );
    process.env.TFJS_BACKEND = 'gpu';
    await expect(initBackend({ log: () => {} })).rejects.toThrow(/unknown tfjs backend 'gpu'/);
    delete process.env.TFJS_BACKEND;
    expect((await initBackend({ log: () => {} })).name).toBe('wasm');
  });

  it('logs one line to stderr by default, nothing with FEDXRAY_QUIET=1', async () => {
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {});
    await (await freshBackendModule()).initBackend({ preferred: 'cpu' });
    expect(stderr).toHaveBeenCalledWith('[fedxray] tfjs backend: cpu');
    stderr.mockClear();
    process.env.FEDXRAY_QUIET = '1';
    await (await freshBackendModule()).initBackend({ preferred: 'cpu' });
    expect(stderr).not.toHaveBeenCalled();
  });
});
