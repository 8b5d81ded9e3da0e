/**
 * What a result records about where it was made: this machine (cpus, memory, GPU via
 * nvidia-smi when present) and the git commit, each looked up once per process.
 */
import { execFile } from 'node:child_process';
import { availableParallelism, cpus, hostname, totalmem } from 'node:os';
import { promisify } from 'node:util';
import type { MachineInfo } from './results.ts';

const exec = promisify(execFile);

async function gpuName(): Promise<string | undefined> {
  try {
    const { stdout } = await exec(
      'nvidia-smi',
      ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'],
      { timeout: 5000 },
    );
    const text = stdout.trim();
    return text === '' ? undefined : text.split('\n').join('; ');
  } catch {
    return undefined;
  }
}

let machineBase: Promise<Omit<MachineInfo, 'loadAverageStart' | 'loadAverageEnd'>> | undefined;

/** cpus, model, memory and GPU of this machine (GPU via nvidia-smi when present). */
export function describeMachine(): Promise<
  Omit<MachineInfo, 'loadAverageStart' | 'loadAverageEnd'>
> {
  machineBase ??= gpuName().then((gpu) => ({
    hostname: hostname(),
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    availableParallelism: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    ...(gpu ? { gpu } : {}),
  }));
  return machineBase;
}

let commit: Promise<string | undefined> | undefined;

export function gitCommit(): Promise<string | undefined> {
  commit ??= exec('git', ['rev-parse', 'HEAD'], { timeout: 5000 }).then(
    ({ stdout }) => stdout.trim() || undefined,
    () => undefined,
  );
  return commit;
}
