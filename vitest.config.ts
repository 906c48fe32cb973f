import { defineConfig } from 'vitest/config';

/** Unit tests, beside the code. */
const UNIT = ['core/src/**/*.test.ts', 'proxy/src/**/*.test.ts', 'ingest/src/**/*.test.ts'];
/** Whole-system tests: processes, browsers, the UI handler in-process. */
const SYSTEM = ['test/**/*.test.ts'];
const NEVER = ['**/node_modules/**', 'test/bench/**'];
/** Tests that bound one tenant's latency while another floods gatelog: they run alone. */
const ISOLATION = ['test/abuse/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // On CI a test that fails is run once more: processes, sockets and timers on a shared 2-core
    // runner occasionally lose a race a quiet machine never shows. A test that passes only on its
    // retry still fails nothing, but is listed by name with its first error (flaky-reporter.ts,
    // test-results/flaky.json) so it gets fixed; a real failure fails both runs.
    retry: process.env['CI'] ? 1 : 0,
    projects: [
      // Two files at a time in the first group (its two projects share the two workers; vitest runs
      // the system files first, then the unit files): most of a file's time is spent starting its
      // process and importing, or waiting on the processes and sockets it drives.
      {
        extends: true,
        // Unit test files share their worker process (isolate: false): a fresh process per file
        // cost ~1.5 s of CPU, starting it and importing the same modules again (172 → 98 s for
        // these 170 files alone). Each file still runs as its own module; none mocks modules, and
        // the fake timers and spies some use are restored after each test.
        test: { name: 'unit', include: UNIT, exclude: NEVER, maxWorkers: 2, isolate: false, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // A process per file: some import the UI's handler with settings of their own.
        test: { name: 'gatelog', include: SYSTEM, exclude: [...NEVER, ...ISOLATION], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // Afterwards, one at a time: their p99 and event-loop bounds hold only on an otherwise idle machine.
        test: { name: 'isolation', include: ISOLATION, exclude: NEVER, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
