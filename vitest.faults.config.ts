import { defineConfig } from 'vitest/config';

/** The fault-injection tests (test/faults): real service processes, killed and restarted. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-postgres.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
});
