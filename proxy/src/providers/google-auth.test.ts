import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { startFakeVertex, type FakeVertex } from '../../../test/support/fake-vertex.ts';
import { createPoolCache } from './openai.ts';
import { TokenError, readServiceAccount, serviceAccountTokens } from './google-auth.ts';

let fake: FakeVertex;
const pools = createPoolCache();

beforeAll(async () => {
  fake = await startFakeVertex();
});
afterAll(async () => {
  await pools.close();
  await fake.close();
});

describe('service account access tokens', () => {
  it('one exchange serves concurrent callers; kept until a minute before expiry; dropped when refused', async () => {
    let now = Date.now();
    const tokens = serviceAccountTokens(readServiceAccount('v', fake.credentialsFile), pools.poolFor, () => now);
    const start = fake.tokenExchanges.length;
    const all = await Promise.all([tokens.get(), tokens.get(), tokens.get()]);
    expect(new Set(all).size).toBe(1);
    expect(fake.tokenExchanges.length).toBe(start + 1);
    // expires_in 3599 s: still good after 58 minutes, renewed at 58 min 59 s.
    now += 58 * 60_000;
    expect(await tokens.get()).toBe(all[0]);
    now += 60_000;
    const renewed = await tokens.get();
    expect(renewed).not.toBe(all[0]);
    expect(fake.tokenExchanges.length).toBe(start + 2);
    tokens.refused(all[0]!); // an older token refused: the current one stays
    expect(await tokens.get()).toBe(renewed);
    tokens.refused(renewed);
    expect(await tokens.get()).not.toBe(renewed);
    expect(fake.tokenExchanges.length).toBe(start + 3);
  });

  it('a key file that is not a service account is refused at start, naming the field, not its contents', () => {
    const file = `${fake.credentialsFile}.bad.json`;
    writeFileSync(file, JSON.stringify({ type: 'authorized_user', refresh_token: 'SECRET-REFRESH-TOKEN' }));
    expect(() => readServiceAccount('v', file)).toThrow(/provider v: credentials_file .*not a service account key/);
    expect(() => readServiceAccount('v', file)).not.toThrow(/SECRET-REFRESH-TOKEN/);
    expect(() => readServiceAccount('v', '/nonexistent/sa.json')).toThrow(/cannot read a JSON key file \(ENOENT\)/);
  });

  it('a refused exchange is a TokenError (401) with Google’s reason', async () => {
    const sa = { ...readServiceAccount('v', fake.credentialsFile), client_email: 'someone-else@example.iam.gserviceaccount.com' };
    const err = await serviceAccountTokens(sa, pools.poolFor).get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenError);
    expect(err).toMatchObject({ status: 401, code: 'GATELOG_ERR_UPSTREAM_AUTH' });
    expect((err as Error).message).toContain('invalid_grant');
  });
});
