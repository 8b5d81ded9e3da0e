import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file gets its own process: tfjs keeps global backend state.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
