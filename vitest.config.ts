import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real-process fault injection runs on its own, one file at a time (vitest.faults.config.ts):
    // each file starts several services, and timing-based tests elsewhere must not starve.
    exclude: ['test/faults/**', '**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file gets its own process: tfjs keeps global backend state.
    globalSetup: ['test/global-postgres.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
