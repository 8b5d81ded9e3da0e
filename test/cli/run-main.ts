/** The fedxray CLI run in this process (shared/cli/main.ts), its stdout and stderr captured. */
import { vi } from 'vitest';
import { main } from '../../shared/cli/main.ts';

export interface MainResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `fedxray ...argv` in this process; what it writes to stdout and stderr is captured. */
export async function runMain(argv: string[]): Promise<MainResult> {
  const out: string[] = [];
  const err: string[] = [];
  const collect = (into: string[]) =>
    ((chunk: string | Uint8Array) => {
      into.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(collect(out));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(collect(err));
  try {
    const code = await main(argv);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
