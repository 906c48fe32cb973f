import { describe, expect, it } from 'vitest';
import { cachedCredentials, type AwsCredentials } from './aws-credentials.ts';
import { TokenError } from './upstream-auth.ts';

const T0 = 1_800_000_000_000;
const keys = (n: number, expiresAt?: number): AwsCredentials => ({
  accessKeyId: `ASIA${n}`, secretAccessKey: `secret-${n}`, sessionToken: `token-${n}`, ...(expiresAt !== undefined ? { expiration: new Date(expiresAt) } : {}),
});

describe('cached AWS credentials', () => {
  it('kept until 5 minutes before expiry; in that window used while new ones are fetched beside; expired ones never used', async () => {
    let now = T0;
    let n = 0;
    let lifetime = 3600_000;
    const lookups: number[] = [];
    const creds = cachedCredentials(() => {
      lookups.push(now);
      n++;
      return Promise.resolve(keys(n, now + lifetime));
    }, 'provider b', () => now);
    // Concurrent first callers share one lookup.
    const [a, b] = await Promise.all([creds(), creds()]);
    expect(a).toBe(b);
    expect(lookups).toHaveLength(1);
    now = T0 + 3600_000 - 300_001;
    expect((await creds()).accessKeyId).toBe('ASIA1');
    expect(lookups).toHaveLength(1);
    // In the window: the current ones still sign this call; the renewal runs beside it.
    now += 2;
    expect((await creds()).accessKeyId).toBe('ASIA1');
    await new Promise((r) => setImmediate(r));
    expect(lookups).toHaveLength(2);
    expect((await creds()).accessKeyId).toBe('ASIA2');
    // Short-lived ones are renewed in the last half of their life; past expiry the call waits for new ones.
    lifetime = 10_000;
    now += 3600_000;
    expect((await creds()).accessKeyId).toBe('ASIA3');
    now += 10_001;
    expect((await creds()).accessKeyId).toBe('ASIA4');
    expect(lookups).toHaveLength(4);
  });

  it('keys without an expiry are looked up once', async () => {
    let n = 0;
    const creds = cachedCredentials(() => Promise.resolve(keys(++n)), 'provider b');
    await creds();
    await creds();
    expect(n).toBe(1);
  });

  it('nothing found is a 401, a failing source a 502, a hung one a 502 after the bound; each names the provider and the next call tries again', async () => {
    const none = cachedCredentials(() => Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })), 'provider b: found no AWS credentials in the default chain');
    const e1 = await none().catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(TokenError);
    expect(e1).toMatchObject({ status: 401, message: 'provider b: found no AWS credentials in the default chain (Could not load credentials from any providers)' });
    const sts = cachedCredentials(() => Promise.reject(Object.assign(new Error('Service Unavailable'), { $fault: 'server' })), 'provider b: could not assume r');
    expect(await sts().catch((e: unknown) => e)).toMatchObject({ status: 502 });
    let calls = 0;
    const hung = cachedCredentials(() => {
      calls++;
      return new Promise<AwsCredentials>(() => undefined);
    }, 'provider b: found no AWS credentials in the default chain', Date.now, 50);
    const e3 = await hung().catch((e: unknown) => e);
    expect(e3).toMatchObject({ status: 502, message: 'provider b: found no AWS credentials in the default chain did not answer within 50 ms' });
    await hung().catch(() => undefined);
    // The hung lookup is still the one waited on: no pile-up of lookups.
    expect(calls).toBe(1);
  });
});
