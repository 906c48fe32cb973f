import { describe, expect, it } from 'vitest';
import { isBatchRootPath } from './index.ts';

describe('bare-origin batch paths', () => {
  it.each([
    ['/files', true], ['/files?purpose=batch', true], ['/files/file-abc/content', true], ['/batches', true], ['/batches/batch_1/cancel', true],
    ['/filesystem', false], ['/batches-report', false], ['/requests', false], ['/v1/files', false],
  ])('%s → %s', (url, served) => {
    expect(isBatchRootPath(url)).toBe(served);
  });
});
