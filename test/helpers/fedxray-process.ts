/** `bin/fedxray.mjs` as a child process (FEDXRAY_QUIET set): its output and exit code. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = new URL('../../bin/fedxray.mjs', import.meta.url).pathname;

export interface FedxrayResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** The CLI run with `env` over the test's own (and FEDXRAY_QUIET=1 unless `env` says otherwise). */
export function fedxrayWith(env: Record<string, string>) {
  return async (...args: string[]): Promise<FedxrayResult> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
        env: { ...process.env, FEDXRAY_QUIET: '1', ...env },
        maxBuffer: 1 << 24,
      });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const e = error as FedxrayResult;
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  };
}

export const fedxrayProcess = fedxrayWith({});
