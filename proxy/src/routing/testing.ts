// Test helpers for routing units: a provider that is never called, and a seeded random source.
import type { Provider } from '../providers/types.ts';

export function stubProvider(name: string): Provider {
  return {
    name,
    kind: 'stub',
    priceProviderId: undefined,
    models: [],
    call: () => Promise.reject(new Error('stub provider is not callable')),
    close: () => Promise.resolve(),
  };
}

/** Deterministic PRNG (mulberry32) so distribution tests are reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
