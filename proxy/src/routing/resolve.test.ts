import { describe, expect, it } from 'vitest';
import { parseConfig } from '@gatelog/core';
import { createProviders } from '../providers/registry.ts';
import { createModelTable } from './resolve.ts';
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
});
