import { describe, expect, it } from 'vitest';
import { parseConfig } from '@gatelog/core';
import { createProviders } from '../providers/registry.ts';
import { Registry } from 'prom-client';
import { MAX_AD_HOC, MAX_MODEL_NAME, createModelTable } from './resolve.ts';
import { registerRoutingMetrics } from './metrics.ts';
import { ProxyError } from '../errors.ts';

const config = parseConfig(
  {
    providers: {
      oa: { kind: 'openai', base_url: 'https://api.openai.com/v1', api_key: 'sk-secret', models: ['gpt-4o-mini'] },
      mock: { kind: 'mock' },
    },
    models: [
      { name: 'fast', deployments: [{ provider: 'oa', model: 'gpt-4o-mini' }, { provider: 'mock', model: 'mock-chat' }] },
      { name: 'local', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
    ],
  },
  'test',
  {},
);

describe('model table', () => {
  const providers = createProviders(config);
  const table = createModelTable(config, providers.byName);

  it('resolves an alias to its first deployment', () => {
    const d = table.resolve('fast');
    expect(d.provider.name).toBe('oa');
    expect(d.model).toBe('gpt-4o-mini');
    expect(d.provider.priceProviderId).toBe('openai');
  });

  it('resolves provider/model, listed or not', () => {
    expect(table.resolve('oa/gpt-4o-mini')).toMatchObject({ model: 'gpt-4o-mini' });
    expect(table.resolve('oa/ft:gpt-4o:org/x')).toMatchObject({ model: 'ft:gpt-4o:org/x' });
    expect(table.resolve('mock/anything').provider.kind).toBe('mock');
  });

  it('unknown model: 404 model_not_found naming the model and aliases, nothing secret', () => {
    let err: unknown;
    try {
      table.resolve('gpt-5');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxyError);
    const pe = err as ProxyError;
    expect(pe.status).toBe(404);
    expect(pe.code).toBe('model_not_found');
    expect(pe.message).toContain('`gpt-5`');
    expect(pe.message).toContain('fast, local');
    expect(pe.message).not.toMatch(/sk-secret|https?:/);
    expect(() => table.resolve('nope/model')).toThrow(ProxyError);
    expect(() => table.resolve('oa/')).toThrow(ProxyError);
  });

  it('lists aliases and provider/model in the OpenAI list shape', () => {
    const list = JSON.parse(table.listBody) as { object: string; data: { id: string; object: string }[] };
    expect(list.object).toBe('list');
    expect(list.data.map((m) => m.id)).toEqual(['fast', 'local', 'oa/gpt-4o-mini', 'mock/mock-chat', 'mock/mock-embed']);
    expect(list.data.every((m) => m.object === 'model')).toBe(true);
  });

  it('keeps a bounded number of unconfigured provider/model routes, and no name over the limit', () => {
    const t = createModelTable(config, providers.byName);
    const configured = t.deployments().length;
    for (let i = 0; i < MAX_AD_HOC + 500; i++) t.resolve(`mock/m-${i}`);
    const snap = t.deployments();
    expect(snap.length).toBe(configured + MAX_AD_HOC);
    // The most recent are kept; configured deployments are never evicted.
    expect(snap.some((d) => d.model === `m-${MAX_AD_HOC + 499}`)).toBe(true);
    expect(snap.some((d) => d.model === 'm-0')).toBe(false);
    expect(snap.filter((d) => !d.ad_hoc).length).toBe(configured);
    expect(() => t.resolve(`mock/${'x'.repeat(MAX_MODEL_NAME)}`)).toThrow(ProxyError);
    expect(t.resolve(`mock/${'x'.repeat(MAX_MODEL_NAME - 5)}`).model).toHaveLength(MAX_MODEL_NAME - 5);
  });

  it('a configured deployment reached as provider/model shares its state', () => {
    const t = createModelTable(config, providers.byName);
    const before = t.deployments().length;
    t.resolve('mock/mock-chat');
    t.plan('oa/gpt-4o-mini', {});
    expect(t.deployments().length).toBe(before);
  });

  it('/metrics sums unconfigured deployments under model="other"', async () => {
    const t = createModelTable(config, providers.byName);
    for (let i = 0; i < 50; i++) t.plan(`mock/m-${i}`, {}).first.state.inFlight++;
    const registry = new Registry();
    registerRoutingMetrics(registry, () => t.deployments());
    const text = await registry.metrics();
    expect(text).not.toContain('m-1');
    expect(text).toContain('gatelog_deployment_in_flight{provider="mock",model="other"} 50');
    expect(text).toContain('gatelog_deployment_in_flight{provider="oa",model="gpt-4o-mini"} 0');
  });
});
