import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here; tests start real servers, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/skip-reporter.ts'],
  },
});
