import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '@gatelog/core';
import { startFakeAzure, type FakeAzure } from '../../../test/support/fake-azure.ts';
import { createPoolCache } from './openai.ts';
import { entraTokens } from './entra-auth.ts';
import { TokenError } from './upstream-auth.ts';

let fake: FakeAzure;
const pools = createPoolCache();
const cfg = (p: Partial<ProviderConfig>): ProviderConfig => ({ kind: 'azure', headers: {}, models: [], latency_ms: 0, connections: 4, auth: 'entra', ...p });

beforeAll(async () => {
  fake = await startFakeAzure('http://127.0.0.1:1');
});
afterAll(async () => {
  await pools.close();
  await fake.close();
});

describe('Entra ID tokens', () => {
  it('managed identity: instance metadata with Metadata: true, the user-assigned client id, expires_in as a string; kept', async () => {
    let now = Date.now();
    const tokens = entraTokens('az', cfg({ imds_host: fake.url, client_id: 'user-assigned-id' }), pools.poolFor, () => now);
    const [a, b] = await Promise.all([tokens.get(), tokens.get()]);
    expect(a).toBe(b);
    const r = fake.requests.filter((x) => x.path.startsWith('/metadata/'));
    expect(r).toHaveLength(1);
    expect(r[0]!.headers['metadata']).toBe('true');
    expect(new URL(r[0]!.path, 'http://x').searchParams.get('client_id')).toBe('user-assigned-id');
    expect(fake.issued.at(-1)).toMatchObject({ token: a, via: 'managed-identity' });
    // "3599" seconds: renewed a minute before.
    now += 58 * 60_000;
    expect(await tokens.get()).toBe(a);
    now += 60_000;
    expect(await tokens.get()).not.toBe(a);
  });

  it('an authority over plain http is refused unless it is on loopback', () => {
    const secret = { tenant_id: 't', client_id: 'c', client_secret: 's' };
    expect(() => entraTokens('az', cfg({ ...secret, authority_host: 'http://login.example.com' }), pools.poolFor)).toThrow(/provider az: authority_host http:\/\/login\.example\.com must be https/);
    expect(() => entraTokens('az', cfg({ ...secret, authority_host: 'http://127.0.0.1:8080' }), pools.poolFor)).not.toThrow();
    expect(() => entraTokens('az', cfg({ ...secret, authority_host: 'https://login.microsoftonline.us' }), pools.poolFor)).not.toThrow();
  });

  it('an unreachable source is a TokenError (502) naming the provider; an unreadable federated token file a 401', async () => {
    const down = await entraTokens('az', cfg({ imds_host: 'http://127.0.0.1:1' }), pools.poolFor).get().catch((e: unknown) => e);
    expect(down).toBeInstanceOf(TokenError);
    expect(down).toMatchObject({ status: 502 });
    expect((down as Error).message).toMatch(/^provider az: managed identity token from http:\/\/127\.0\.0\.1:1 did not answer/);
    const noFile = await entraTokens('az', cfg({ authority_host: fake.url, tenant_id: 't', client_id: 'c', federated_token_file: '/nonexistent/token' }), pools.poolFor).get().catch((e: unknown) => e);
    expect(noFile).toMatchObject({ status: 401 });
    expect((noFile as Error).message).toContain('cannot read the federated token file /nonexistent/token (ENOENT)');
  });
});
