/**
 * Picks and initialises the fastest TensorFlow.js backend available here, once per process.
 * Order: tfjs-node-gpu, tfjs-node (both native, optional and usually absent), wasm, cpu.
 * TFJS_BACKEND (tensorflow | wasm | cpu) or options.preferred forces one backend.
 */
import { tf } from './tf.ts';
import { registerWasmTrainingKernels } from './wasm-kernels/register.ts';

export interface BackendInfo {
  /** tf.getBackend() */
  name: string;
  /** npm package that provided the backend */
  source: string;
  simd?: boolean;
  threads?: number;
  /** Why faster backends were skipped, when any was. */
  fallbackReason?: string;
}

export interface InitBackendOptions {
  /** tensorflow | wasm | cpu; wins over TFJS_BACKEND. */
  preferred?: string;
  /** Receives the one-line summary; default console.error unless FEDXRAY_QUIET=1. */
  log?: (msg: string) => void;
}

type Choice = 'tensorflow' | 'wasm' | 'cpu';
const CHOICES: readonly Choice[] = ['tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

let pending: Promise<BackendInfo> | undefined;
let current: BackendInfo | undefined;

export function getBackendInfo(): BackendInfo | undefined {
  return current;
}

export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  pending ??= choose(options).then(
    (info) => {
      current = info;
      announce(info, options.log);
      return info;
    },
    (error: unknown) => {
      pending = undefined; // let a caller retry with other settings
      throw error;
    },
  );
  return pending;
}

async function choose(options: InitBackendOptions): Promise<BackendInfo> {
  const requested = parseChoice(options.preferred ?? process.env.TFJS_BACKEND);
  if (requested !== undefined) {
    try {
      return await load(requested);
    } catch (error) {
      throw new Error(
        `tfjs backend '${requested}' was requested (${options.preferred !== undefined ? 'options.preferred' : 'TFJS_BACKEND'}) but cannot load: ${message(error)}`,
        { cause: error },
      );
    }
  }
  const skipped: string[] = [];
  for (const choice of CHOICES) {
    try {
      const info = await load(choice);
      return skipped.length > 0 ? { ...info, fallbackReason: skipped.join('; ') } : info;
    } catch (error) {
      skipped.push(`${choice}: ${message(error)}`);
    }
  }
  throw new Error(`no tfjs backend could be initialised (${skipped.join('; ')})`);
}

function parseChoice(value: string | undefined): Choice | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const choice = value.trim().toLowerCase();
  if (!(CHOICES as readonly string[]).includes(choice)) {
    throw new Error(`unknown tfjs backend '${value}': use one of ${CHOICES.join(', ')}`);
  }
  return choice as Choice;
}

async function load(choice: Choice): Promise<BackendInfo> {
  switch (choice) {
    case 'tensorflow':
      return loadNative();
    case 'wasm':
      return loadWasm();
    case 'cpu':
      await activate('cpu');
      // Skips the cpu backend's own "install tfjs-node" banner: announce() says it is cpu.
      (tf.backend() as { firstUse?: boolean }).firstUse = false;
      return { name: tf.getBackend(), source: '@tensorflow/tfjs-backend-cpu' };
  }
}

async function loadNative(): Promise<BackendInfo> {
  const reasons: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      // A variable specifier: these optional packages are usually not installed, and tsc
      // must not try to resolve them.
      await import(pkg);
    } catch (error) {
      reasons.push(
        `${pkg} ${isNotFound(error) ? 'is not installed' : `failed: ${message(error)}`}`,
      );
      continue;
    }
    await activate('tensorflow');
    return { name: tf.getBackend(), source: pkg };
  }
  throw new Error(reasons.join(', '));
}

async function loadWasm(): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  await activate('wasm');
  registerWasmTrainingKernels();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const multithread = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
  return {
    name: tf.getBackend(),
    source: '@tensorflow/tfjs-backend-wasm',
    simd,
    threads: multithread ? wasm.getThreadsCount() : 1,
  };
}

async function activate(name: string): Promise<void> {
  if (tf.findBackendFactory(name) === null) throw new Error(`backend '${name}' is not registered`);
  // setBackend reports a failed initialisation by resolving false (with a console warning).
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' failed to initialise`);
  await tf.ready();
}

function announce(info: BackendInfo, log: InitBackendOptions['log']): void {
  const details: string[] = [];
  if (info.simd !== undefined) details.push(info.simd ? 'simd' : 'no simd');
  if (info.threads !== undefined)
    details.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  if (info.name === 'tensorflow') details.push(info.source);
  const line = `[fedxray] tfjs backend: ${info.name}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
  if (log !== undefined) log(line);
  else if (process.env.FEDXRAY_QUIET !== '1') console.error(line);
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
