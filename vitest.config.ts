import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 has no "exports" map: Node loads its CommonJS build for every dependency, while
    // Vite would hand our own files the .mjs build, and two graphql instances cannot share a schema.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    setupFiles: ['test/harness/event-loop-watchdog.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Two cores: more workers than that only makes timing-sensitive pool tests contend.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
});
