import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['core/src/**/*.test.ts', 'proxy/src/**/*.test.ts', 'ingest/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/bench/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time: most of a file's time is spent starting its process and importing, or
    // waiting on the processes and sockets it drives, so a 2-core runner has room for a second.
    maxWorkers: 2,
    // On CI a test that fails is run once more: processes, sockets and timers on a shared 2-core
    // runner occasionally lose a race a quiet machine never shows. A test that passes only on its
    // retry still fails nothing, but is listed by name with its first error (flaky-reporter.ts,
    // test-results/flaky.json) so it gets fixed; a real failure fails both runs.
    retry: process.env['CI'] ? 1 : 0,
  },
});
