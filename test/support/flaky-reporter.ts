// A reporter that keeps retried tests visible: with `retry` on (CI), a test that failed and
// then passed is listed by name with its first failure, in the log and in
// test-results/flaky.json, so a flake is fixed rather than hidden by the retry.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, TestCase } from 'vitest/node';

export interface FlakyTest {
  file: string;
  name: string;
  retries: number;
  firstError: string;
}

export default class FlakyReporter implements Reporter {
  readonly #flaky: FlakyTest[] = [];
  readonly #out: string;

  constructor(options: { outputFile?: string } = {}) {
    this.#out = options.outputFile ?? 'test-results/flaky.json';
  }

  onTestCaseResult(testCase: TestCase): void {
    const d = testCase.diagnostic();
    if (!d?.flaky) return;
    const err = testCase.result().errors?.[0];
    this.#flaky.push({
      file: testCase.module.relativeModuleId,
      name: testCase.fullName,
      retries: d.retryCount,
      firstError: err ? String(err.message).slice(0, 500) : '',
    });
  }

  onTestRunEnd(): void {
    mkdirSync(dirname(this.#out), { recursive: true });
    writeFileSync(this.#out, `${JSON.stringify(this.#flaky, null, 2)}\n`);
    if (this.#flaky.length === 0) return;
    const lines = this.#flaky.map((f) => `  ${f.file} > ${f.name} (passed on retry ${f.retries})${f.firstError ? `: ${f.firstError.split('\n')[0]}` : ''}`);
    process.stdout.write(`\nflaky: ${this.#flaky.length} test(s) failed before passing on a retry:\n${lines.join('\n')}\n`);
  }
}
