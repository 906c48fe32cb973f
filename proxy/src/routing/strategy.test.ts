import { describe, expect, it } from 'vitest';
import { DeploymentState } from './deployment-state.ts';
import { pick, type Candidate } from './strategy.ts';
import { seeded, stubProvider } from './testing.ts';

const cd = { failures: 1, window_ms: 1000, cooldown_ms: 1000 };
const cand = (name: string, weight = 1): Candidate => ({ state: new DeploymentState(stubProvider(name), 'm', cd), weight });

describe('strategies', () => {
  it('weighted: picks in proportion to weight', () => {
    const cands = [cand('a', 1), cand('b', 3)];
    const rnd = seeded(7);
    let b = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (pick('weighted', cands, null, 0, rnd)?.state.provider.name === 'b') b++;
    expect(b / n).toBeGreaterThan(0.72);
    expect(b / n).toBeLessThan(0.78);
  });

  it('least-busy: the fewest in flight', () => {
    const cands = [cand('a'), cand('b'), cand('c')];
    cands[0]!.state.inFlight = 3;
    cands[1]!.state.inFlight = 1;
    cands[2]!.state.inFlight = 2;
    for (let i = 0; i < 50; i++) expect(pick('least-busy', cands, null, 0, Math.random)?.state.provider.name).toBe('b');
  });

  it('latency: untried first, then the lowest EWMA', () => {
    const cands = [cand('a'), cand('b')];
    cands[0]!.state.ewmaMs = 50;
    expect(pick('latency', cands, null, 0, Math.random)?.state.provider.name).toBe('b');
    cands[1]!.state.ewmaMs = 80;
    expect(pick('latency', cands, null, 0, Math.random)?.state.provider.name).toBe('a');
  });

  it('skips cooling and already-tried deployments; null when none is left', () => {
    const cands = [cand('a'), cand('b')];
    cands[0]!.state.begin(0);
    cands[0]!.state.fail(0, 'http_503');
    for (let i = 0; i < 20; i++) expect(pick('weighted', cands, null, 10, Math.random)?.state.provider.name).toBe('b');
    expect(pick('weighted', cands, new Set([cands[1]!.state]), 10, Math.random)).toBeNull();
    expect(pick('weighted', cands, new Set([cands[1]!.state]), 2000, Math.random)?.state.provider.name).toBe('a');
  });
});

describe('rpm', () => {
  it('a deployment at its requests-per-minute is skipped until the minute is over', () => {
    const cands = [cand('a'), cand('b')];
    cands[0]!.state.rpm = 2;
    for (const t of [0, 10]) {
      cands[0]!.state.begin(t);
      cands[0]!.state.end();
    }
    for (let i = 0; i < 20; i++) expect(pick('weighted', cands, null, 100, Math.random)?.state.provider.name).toBe('b');
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(pick('weighted', cands, null, 60_001, Math.random)!.state.provider.name);
    expect(seen).toEqual(new Set(['a', 'b']));
  });
});
