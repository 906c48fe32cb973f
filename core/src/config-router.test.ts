// Routing fields of gatelog.yaml: defaults, strategies, fallbacks that must name an alias.
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config.ts';
import { parseConfig } from './config-load.ts';

const base = (models: unknown[], extra: Record<string, unknown> = {}): unknown => ({
  providers: { a: { kind: 'mock' }, b: { kind: 'mock' } },
  models,
  ...extra,
});

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('router config', () => {
  it('fills routing defaults when nothing is configured', () => {
    const cfg = parseConfig(base([{ name: 'm', deployments: [{ provider: 'a', model: 'x' }] }]), 'f.yaml', {});
    expect(cfg.models[0]).toMatchObject({ strategy: 'weighted', fallbacks: [], context_window_fallbacks: [] });
    expect(cfg.router.retries).toBe(2);
    expect(cfg.router.backoff.base_ms).toBeGreaterThan(0);
    expect(cfg.router.timeouts.total_ms).toBeGreaterThan(cfg.router.timeouts.ttfb_ms);
    expect(cfg.router.cooldown.failures).toBeGreaterThan(0);
  });

  it('accepts strategies, rpm/tpm, fallbacks and partial router overrides', () => {
    const cfg = parseConfig(
      base(
        [
          { name: 'm', strategy: 'least-busy', fallbacks: ['n'], context_window_fallbacks: ['n'], deployments: [{ provider: 'a', model: 'x', weight: 3, rpm: 60, tpm: 1000 }] },
          { name: 'n', strategy: 'latency', deployments: [{ provider: 'b', model: 'y' }] },
        ],
        { router: { retries: 0, timeouts: { ttfb_ms: 50 } } },
      ),
      'f.yaml',
      {},
    );
    expect(cfg.models[0]?.deployments[0]).toMatchObject({ weight: 3, rpm: 60, tpm: 1000 });
    expect(cfg.models[1]?.strategy).toBe('latency');
    expect(cfg.router.retries).toBe(0);
    expect(cfg.router.timeouts.ttfb_ms).toBe(50);
    expect(cfg.router.timeouts.idle_ms).toBeGreaterThan(0);
  });

  it('names the path of an unknown fallback alias', () => {
    const msg = errorOf(() =>
      parseConfig(base([{ name: 'm', fallbacks: ['n', 'ghost'], context_window_fallbacks: ['spirit'], deployments: [{ provider: 'a', model: 'x' }] }, { name: 'n', deployments: [{ provider: 'b', model: 'y' }] }]), 'f.yaml', {}),
    );
    expect(msg).toContain('f.yaml: models[0].fallbacks[1]: unknown alias "ghost"');
    expect(msg).toContain('models[0].context_window_fallbacks[0]: unknown alias "spirit"');
  });

  it('rejects an unknown strategy and unknown router fields', () => {
    expect(errorOf(() => parseConfig(base([{ name: 'm', strategy: 'random', deployments: [{ provider: 'a', model: 'x' }] }]), 'f.yaml', {}))).toContain('models[0].strategy');
    expect(errorOf(() => parseConfig(base([], { router: { retry: 1 } }), 'f.yaml', {}))).toContain('router');
  });
});
