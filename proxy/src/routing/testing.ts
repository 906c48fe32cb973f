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
export { rng as seeded } from '../../../test/support/rng.ts';
