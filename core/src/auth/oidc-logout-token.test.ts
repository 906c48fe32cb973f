// The logout token checks of Back-Channel Logout 1.0 §2.6, against tokens signed here with jose
// (a provider's key set made locally): each way a token can be wrong is refused with its code.
import { describe, expect, it } from 'vitest';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, type JWK, type JWTPayload } from 'jose';
import { BACKCHANNEL_EVENT, LogoutTokenError, MAX_AGE_S, memoryReplayGuard, sidHashOf, verifyLogoutToken, type LogoutRefusal } from './oidc-logout-token.ts';

const ISS = 'https://idp.example.com/realms/acme';
const CLIENT = 'gatelog-ui';
const NOW = Date.parse('2026-12-05T07:00:00Z');
const nowS = NOW / 1000;

const provider = await generateKeyPair('RS256');
const stranger = await generateKeyPair('RS256');
const publicJwk: JWK = { ...(await exportJWK(provider.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const keys = createLocalJWKSet({ keys: [publicJwk] });

const good = (): JWTPayload => ({ iss: ISS, aud: CLIENT, iat: nowS - 2, exp: nowS + 120, jti: 'jti-1', sub: 'person-1', sid: 'sid-1', events: { [BACKCHANNEL_EVENT]: {} } });

async function sign(payload: JWTPayload, opts: { key?: CryptoKey; alg?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'k1', typ: 'logout+jwt' }).sign(opts.key ?? provider.privateKey);
}

const verify = (token: string, now = NOW) => verifyLogoutToken(token, keys, { issuer: ISS, clientId: CLIENT, now });

async function refusal(token: string): Promise<LogoutRefusal | 'accepted'> {
  try {
    await verify(token);
    return 'accepted';
  } catch (err) {
    if (err instanceof LogoutTokenError) return err.code;
    throw err;
  }
}

const without = (k: string): JWTPayload => Object.fromEntries(Object.entries(good()).filter(([key]) => key !== k));

describe('verifyLogoutToken', () => {
  it('accepts a token from the provider for this client, and says how long its jti must be remembered', async () => {
    const c = await verify(await sign(good()));
    expect(c).toMatchObject({ iss: ISS, sub: 'person-1', sid: 'sid-1', jti: 'jti-1' });
    expect(c.acceptableUntil).toBeGreaterThanOrEqual((nowS + 120) * 1000);
    expect(c.issuedAt).toBe((nowS - 2) * 1000);
    // sid alone, or sub alone, names what to end.
    expect(await verify(await sign(without('sub')))).toMatchObject({ sid: 'sid-1' });
    expect(await verify(await sign(without('sid')))).not.toHaveProperty('sid');
    // aud may be a list that includes this client; no exp is fine (iat bounds the age).
    expect(await refusal(await sign({ ...good(), aud: ['other', CLIENT] }))).toBe('accepted');
    expect(await refusal(await sign(without('exp')))).toBe('accepted');
  });

  it.each<[string, () => Promise<string>, LogoutRefusal]>([
    ['another audience', () => sign({ ...good(), aud: 'someone-else' }), 'wrong_audience'],
    ['another issuer', () => sign({ ...good(), iss: 'https://evil.example.com' }), 'wrong_issuer'],
    ['a key the provider never published', () => sign(good(), { key: stranger.privateKey }), 'bad_signature'],
    ['an unknown key id', () => sign(good(), { kid: 'k2' }), 'bad_signature'],
    ['a tampered payload', async () => {
      const [h, , s] = (await sign(good())).split('.');
      return `${h}.${Buffer.from(JSON.stringify({ ...good(), sub: 'admin' })).toString('base64url')}.${s}`;
    }, 'bad_signature'],
    ['alg none', () => Promise.resolve(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good())).toString('base64url')}.x`), 'bad_signature'],
    ['no events claim', () => sign(without('events')), 'not_logout'],
    ['another event', () => sign({ ...good(), events: { 'http://schemas.openid.net/event/other': {} } }), 'not_logout'],
    ['an event that is not an object', () => sign({ ...good(), events: { [BACKCHANNEL_EVENT]: true } }), 'not_logout'],
    ['a nonce (an ID token)', () => sign({ ...good(), nonce: 'n' }), 'has_nonce'],
    ['neither sub nor sid', () => sign({ ...without('sub'), sid: undefined }), 'no_subject'],
    ['a sid that is not a string', () => sign({ ...good(), sid: 42 }), 'no_subject'],
    ['no jti', () => sign(without('jti')), 'no_jti'],
    ['no iat', () => sign(without('iat')), 'stale'],
    ['an old iat', () => sign({ ...good(), iat: nowS - MAX_AGE_S - 120 }), 'stale'],
    ['an iat in the future', () => sign({ ...good(), iat: nowS + 600 }), 'stale'],
    ['an expired token', () => sign({ ...good(), exp: nowS - 600 }), 'expired'],
    ['garbage', () => Promise.resolve('not-a-jwt'), 'malformed'],
    ['a JWS whose payload is not JSON', () => Promise.resolve(`${Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url')}.bm90IGpzb24.c2ln`), 'bad_signature'],
    ['a huge token', () => Promise.resolve(`a.${'b'.repeat(20_000)}.c`), 'malformed'],
  ])('refuses %s', async (_name, make, code) => {
    expect(await refusal(await make())).toBe(code);
  });

  it('refuses an HMAC token signed with anything, even when the algorithm list asks for it', async () => {
    const secret = new TextEncoder().encode('the-client-secret-of-gatelog-ui-xx');
    const token = await new SignJWT(good()).setProtectedHeader({ alg: 'HS256' }).sign(secret);
    await expect(verifyLogoutToken(token, keys, { issuer: ISS, clientId: CLIENT, now: NOW, algorithms: ['HS256'] })).rejects.toMatchObject({ code: 'bad_signature' });
  });

  it('never puts the token in its error', async () => {
    const token = await sign({ ...good(), aud: 'x' });
    const err = await verify(token).catch((e: unknown) => e);
    expect(String((err as Error).message)).not.toContain(token.split('.')[1]);
  });
});

describe('memoryReplayGuard', () => {
  it('spends a jti once until its token could no longer be accepted; per issuer', async () => {
    let t = NOW;
    const guard = memoryReplayGuard(() => t);
    expect(await guard.firstUse(ISS, 'a', NOW + 1000)).toBe(true);
    expect(await guard.firstUse(ISS, 'a', NOW + 1000)).toBe(false);
    expect(await guard.firstUse('https://other.example.com', 'a', NOW + 1000)).toBe(true);
    t = NOW + 1001;
    expect(await guard.firstUse(ISS, 'a', NOW + 5000)).toBe(true);
  });

  it('stays bounded, forgetting the oldest first', async () => {
    const guard = memoryReplayGuard(() => NOW, 3);
    for (const j of ['a', 'b', 'c', 'd']) expect(await guard.firstUse(ISS, j, NOW + 1000)).toBe(true);
    expect(await guard.firstUse(ISS, 'd', NOW + 1000)).toBe(false);
    expect(await guard.firstUse(ISS, 'a', NOW + 1000)).toBe(true);
  });
});

describe('sidHashOf', () => {
  it('is per issuer and never the sid itself', () => {
    expect(sidHashOf(ISS, 's')).toMatch(/^[0-9a-f]{64}$/);
    expect(sidHashOf(ISS, 's')).not.toBe(sidHashOf('https://other.example.com', 's'));
  });
});

describe('memoryReplayGuard.release', () => {
  it('un-spends a jti whose logout could not be carried out', async () => {
    const guard = memoryReplayGuard(() => NOW);
    expect(await guard.firstUse(ISS, 'r', NOW + 1000)).toBe(true);
    await guard.release(ISS, 'r');
    expect(await guard.firstUse(ISS, 'r', NOW + 1000)).toBe(true);
    expect(await guard.firstUse(ISS, 'r', NOW + 1000)).toBe(false);
  });
});
