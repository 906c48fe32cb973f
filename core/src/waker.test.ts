import { describe, expect, it } from 'vitest';
import { createWaker } from './waker.ts';

describe('createWaker', () => {
  it('wake() ends a wait early', async () => {
    const w = createWaker();
    const t0 = performance.now();
    const p = w.wait(10_000);
    w.wake();
    await p;
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('a wake with nobody waiting ends the next wait at once; clear() forgets it', async () => {
    const w = createWaker();
    w.wake();
    const t0 = performance.now();
    await w.wait(10_000);
    expect(performance.now() - t0).toBeLessThan(1_000);
    w.wake();
    w.clear();
    const t1 = performance.now();
    await w.wait(50);
    expect(performance.now() - t1).toBeGreaterThanOrEqual(40);
  });
});
