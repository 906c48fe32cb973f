import { describe, expect, it } from 'vitest';
import { DeploymentState } from './deployment-state.ts';
import { stubProvider } from './testing.ts';

const cd = { failures: 3, window_ms: 1000, cooldown_ms: 5000 };

describe('deployment cooldown', () => {
  it('cools after N failures within the window, then lets exactly one probe through', () => {
    const s = new DeploymentState(stubProvider('p'), 'm', cd);
    for (const t of [0, 100, 200]) {
      s.begin(t);
      s.fail(t, 'http_503');
      s.end();
    }
    expect(s.health(300)).toBe('cooling');
    expect(s.health(5199)).toBe('cooling');
    expect(s.health(5200)).toBe('probe');
    s.begin(5200);
    expect(s.health(5201)).toBe('cooling'); // the probe is in flight: others still skip it
    s.succeed(40);
    s.end();
    expect(s.health(5202)).toBe('ok');
    expect(s.recentFailures(5202)).toBe(0);
    expect(s.inFlight).toBe(0);
  });

  it('failures spread wider than the window never cool it', () => {
    const s = new DeploymentState(stubProvider('p'), 'm', cd);
    for (const t of [0, 600, 1200, 1800]) {
      s.begin(t);
      s.fail(t, 'http_429');
      s.end();
    }
    expect(s.health(1900)).toBe('ok');
    expect(s.recentFailures(1900)).toBe(2);
  });

  it('a failed probe cools again; an aborted probe frees the slot', () => {
    const s = new DeploymentState(stubProvider('p'), 'm', { ...cd, failures: 1 });
    s.begin(0);
    s.fail(0, 'upstream_timeout');
    s.end();
    s.begin(5000);
    s.fail(5000, 'upstream_timeout');
    s.end();
    expect(s.health(9999)).toBe('cooling');
    s.begin(10_000);
    s.end();
    expect(s.health(10_001)).toBe('probe');
    expect(s.lastError).toBe('upstream_timeout');
    expect(s.totalFailures).toBe(2);
  });

  it('keeps an EWMA of latency', () => {
    const s = new DeploymentState(stubProvider('p'), 'm', cd);
    s.begin(0);
    s.succeed(100);
    expect(s.ewmaMs).toBe(100);
    s.begin(0);
    s.succeed(200);
    expect(s.ewmaMs).toBeCloseTo(130, 9);
  });
});
