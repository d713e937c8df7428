import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests bind real ports and the browser tests run a real Chromium:
    // two cores are shared, so keep files from starving each other.
    maxWorkers: 2,
  },
});
