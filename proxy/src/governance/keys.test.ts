import { describe, expect, it } from 'vitest';
import { endUserScopeId } from './end-user.ts';
import { KeyRing, checkModel, startKeyRefresh } from './key-ring.ts';
import {
  createKey,
  displayPrefix,
  generateKeySecret,
  hashKey,
  parseDuration,
  parseExpiry,
  publicKeyView,
  rotateKey,
  updateKey,
  type VirtualKey,
} from './keys.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const author = { now: NOW, actor: 'master' };

function mk(input: Record<string, unknown> = {}): { key: VirtualKey; secret: string } {
  const r = createKey({ name: 'app-x', ...input }, author);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

describe('secrets', () => {
  it('generates gl- + 43 url-safe chars, distinct each time', () => {
    const a = generateKeySecret();
    const b = generateKeySecret();
    expect(a).toMatch(/^gl-[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('hashes with SHA-256 hex and shows only a short prefix', () => {
    const s = generateKeySecret(() => Buffer.alloc(32, 0xab));
    expect(hashKey(s)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey(s)).toBe(hashKey(s));
    const p = displayPrefix(s);
    expect(p).toBe(`gl-${s.slice(3, 7)}…${s.slice(-4)}`);
    expect(p.length).toBeLessThan(15);
  });
});

describe('durations and expiry', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['2w', 1_209_600_000],
    ['0d', null],
    ['30', null],
    ['1y', null],
    ['-1d', null],
  ])('parseDuration(%s) = %s', (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
  });

  it('accepts future ISO instants with a timezone only', () => {
    expect(parseExpiry('2027-01-01T00:00:00Z', NOW)).toEqual({ ok: true, at: Date.parse('2027-01-01T00:00:00Z') });
    expect(parseExpiry('2020-01-01T00:00:00Z', NOW)).toMatchObject({ ok: false, message: 'must be in the future' });
    expect(parseExpiry('2027-01-01', NOW)).toMatchObject({ ok: false });
    expect(parseExpiry('tomorrow', NOW)).toMatchObject({ ok: false });
  });
});

describe('createKey / updateKey', () => {
  it('builds version 1 from CLI-style input; no plaintext in the record', () => {
    const { key, secret } = mk({ team: 'search', models: 'fast, smart', budget_usd: '50', budget_period: 'monthly', rpm: '60', tpm: 100000, expires: '30d' });
    expect(key).toMatchObject({
      version: 1,
      name: 'app-x',
      team: 'search',
      models: ['fast', 'smart'],
      budget_usd: 50,
      budget_period: 'monthly',
      rpm: 60,
      tpm: 100000,
      max_parallel: null,
      expires_at: '2026-12-23T10:00:00.000Z',
      revoked: false,
      created_at: '2026-11-23T10:00:00.000Z',
      updated_by: 'master',
      key_hash: hashKey(secret),
    });
    expect(JSON.stringify(key)).not.toContain(secret.slice(3));
  });

  it('defaults the period to monthly with a budget and none without', () => {
    expect(mk({ budget_usd: 5 }).key.budget_period).toBe('monthly');
    expect(mk().key.budget_period).toBe('none');
  });

  it.each([
    [{}, /name: /],
    [{ name: 'x', budget_usd: -1 }, /budget_usd: greater than 0/],
    [{ name: 'x', budget_period: 'yearly' }, /budget_period: /],
    [{ name: 'x', rpm: 1.5 }, /rpm: a whole number/],
    [{ name: 'x', expires: 'soon' }, /expires: expected a duration/],
    [{ name: 'x', expires: '2020-01-01T00:00:00Z' }, /expires: must be in the future/],
    [{ name: 'x', colour: 'red' }, /unknown field\(s\) colour/],
    [{ name: 'bad\u0000name' }, /name: printable ASCII only/],
  ])('rejects %j with a clear message', (input, msg) => {
    const r = createKey(input, author);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(msg);
  });

  it('updates produce the next version and keep untouched fields', () => {
    const { key } = mk({ rpm: 10, expires: '1d' });
    const r = updateKey(key, { rpm: null, tpm: 500, expires: null, revoked: true }, { now: NOW + 1000, actor: 'ops' });
    expect(r).toMatchObject({
      ok: true,
      value: { id: key.id, version: 2, rpm: null, tpm: 500, expires_at: null, revoked: true, name: 'app-x', updated_by: 'ops', updated_at: '2026-11-23T10:00:01.000Z', created_at: key.created_at },
    });
    expect(updateKey(key, {}, author)).toMatchObject({ ok: false, message: 'input: nothing to update' });
    expect(updateKey(key, { expires: '2020-01-01T00:00:00Z' }, author)).toMatchObject({ ok: false, message: 'expires: must be in the future' });
  });

  it('publicKeyView drops the hash', () => {
    expect(publicKeyView(mk().key)).not.toHaveProperty('key_hash');
  });
});

describe('KeyRing.authenticate', () => {
  const live = mk();
  const revoked = mk({ name: 'old' });
  revoked.key.revoked = true;
  const expiring = mk({ name: 'temp', expires: '1h' });
  const ring = new KeyRing();
  ring.replace([live.key, revoked.key, expiring.key], NOW);

  it('admits a live key', () => {
    expect(ring.authenticate(live.secret, NOW)).toEqual({ ok: true, value: live.key });
    expect(ring.byId(live.key.id)).toBe(live.key);
  });

  const canary = 'gl-CANARYcanaryCANARYcanaryCANARYcanary12';
  it.each<[string, string | undefined, number, string]>([
    ['missing', undefined, 401, 'missing_api_key'],
    ['empty', '', 401, 'missing_api_key'],
    ['unknown', canary, 401, 'invalid_api_key'],
    ['SQL', "' OR 1=1 --", 401, 'invalid_api_key'],
    ['NUL byte', `${canary}\u0000`, 401, 'invalid_api_key'],
    ['newline', `${canary}\nx`, 401, 'invalid_api_key'],
    ['too long', `gl-${'a'.repeat(5000)}`, 401, 'invalid_api_key'],
    ['not ours', 'sk-proj-CANARYcanaryCANARYcanaryCANARY', 401, 'invalid_api_key'],
  ])('refuses %s without echoing it', (_name, presented, status, code) => {
    const r = ring.authenticate(presented, NOW);
    expect(r).toMatchObject({ ok: false, refusal: { status, code, type: 'authentication_error' } });
    if (!r.ok && presented) {
      expect(r.refusal.message).not.toContain('CANARY');
      expect(r.refusal.message).not.toContain(presented);
    }
  });

  it('refuses revoked and expired keys naming only the display prefix', () => {
    const rv = ring.authenticate(revoked.secret, NOW);
    expect(rv).toMatchObject({ ok: false, refusal: { status: 401, code: 'key_revoked' } });
    expect(ring.authenticate(expiring.secret, NOW + 3_599_999).ok).toBe(true);
    const ex = ring.authenticate(expiring.secret, NOW + 3_600_000);
    expect(ex).toMatchObject({ ok: false, refusal: { status: 401, code: 'key_expired' } });
    for (const r of [rv, ex]) if (!r.ok) expect(r.refusal.message).not.toContain(revoked.secret.slice(3, 20));
  });

  it('answers 503 before the first load', () => {
    expect(new KeyRing().authenticate(live.secret, NOW)).toMatchObject({ ok: false, refusal: { status: 503, code: 'keys_unavailable' } });
  });
});

describe('rotateKey', () => {
  const rotated = (k: VirtualKey, input: Record<string, unknown>, now = NOW + 60_000) => {
    const r = rotateKey(k, input, { now, actor: 'token:ops' });
    if (!r.ok) throw new Error(r.message);
    return r.value;
  };

  it('a new secret for the same key: id, team, limits and history stay', () => {
    const first = mk({ team: 'search', rpm: 60, budget_usd: 5 });
    const next = rotated(first.key, {});
    expect(next.secret).not.toBe(first.secret);
    expect(next.key).toMatchObject({ id: first.key.id, team: 'search', rpm: 60, budget_usd: 5, version: 2, created_at: first.key.created_at, updated_by: 'token:ops' });
    expect(next.key.key_hash).toBe(hashKey(next.secret));
    expect(next.key.key_prefix).toBe(displayPrefix(next.secret));
    expect(next.key).toMatchObject({ previous_key_hash: '', previous_valid_until: null, rotated_at: new Date(NOW + 60_000).toISOString() });
    expect(publicKeyView(next.key)).not.toHaveProperty('previous_key_hash');
    expect(JSON.stringify(publicKeyView(next.key))).not.toContain(first.key.key_hash);
  });

  it("the key's end users keep their counters through rotations", () => {
    const first = mk({ user_rpm: 5 });
    const second = rotated(first.key, {});
    const third = rotated(second.key, { grace: '1h' }, NOW + 120_000);
    expect(endUserScopeId(second.key, 'alice')).toBe(endUserScopeId(first.key, 'alice'));
    expect(endUserScopeId(third.key, 'alice')).toBe(endUserScopeId(first.key, 'alice'));
    expect(endUserScopeId(third.key, 'bob')).not.toBe(endUserScopeId(third.key, 'alice'));
    expect(publicKeyView(third.key)).not.toHaveProperty('counter_salt');
  });

  it('with a grace period the replaced secret is kept, by hash, until it ends', () => {
    const first = mk();
    const next = rotated(first.key, { grace: '24h' });
    expect(next.key).toMatchObject({ previous_key_hash: first.key.key_hash, previous_key_prefix: first.key.key_prefix, previous_valid_until: new Date(NOW + 60_000 + 86_400_000).toISOString() });
    // A second rotation within the grace: only the secret it replaces is kept.
    const third = rotated(next.key, { grace: '1h' }, NOW + 120_000);
    expect(third.key.previous_key_hash).toBe(next.key.key_hash);
  });

  it.each([['1y'], ['31d'], ['soon'], ['-1h']])('refuses grace %s', (grace) => {
    expect(rotateKey(mk().key, { grace }, author)).toMatchObject({ ok: false });
  });

  it('refuses unknown fields', () => {
    expect(rotateKey(mk().key, { secret: 'gl-mine' }, author)).toMatchObject({ ok: false });
  });

  it('the ring: both secrets during the grace, then only the new one, with a clear refusal', () => {
    const first = mk();
    const next = rotated(first.key, { grace: '1h' }, NOW);
    const ring = new KeyRing();
    ring.replace([next.key], NOW);
    expect(ring.authenticate(first.secret, NOW + 3_599_999)).toEqual({ ok: true, value: next.key });
    expect(ring.authenticate(next.secret, NOW + 3_599_999)).toEqual({ ok: true, value: next.key });
    const late = ring.authenticate(first.secret, NOW + 3_600_000);
    expect(late).toMatchObject({ ok: false, refusal: { status: 401, code: 'key_rotated' } });
    if (!late.ok) {
      expect(late.refusal.message).toContain(first.key.key_prefix);
      expect(late.refusal.message).not.toContain(first.secret.slice(8));
    }
    expect(ring.authenticate(next.secret, NOW + 7_200_000).ok).toBe(true);
  });

  it('without a grace the replaced secret is refused at once; revoking ends both', () => {
    const first = mk();
    const next = rotated(first.key, {}, NOW);
    const ring = new KeyRing();
    ring.replace([next.key], NOW);
    expect(ring.authenticate(first.secret, NOW)).toMatchObject({ ok: false, refusal: { code: 'invalid_api_key' } });
    const graced = rotated(first.key, { grace: '1h' }, NOW);
    ring.replace([{ ...graced.key, revoked: true }], NOW);
    expect(ring.authenticate(first.secret, NOW)).toMatchObject({ ok: false, refusal: { code: 'key_revoked' } });
    expect(ring.authenticate(graced.secret, NOW)).toMatchObject({ ok: false, refusal: { code: 'key_revoked' } });
  });
});

describe('KeyRing.refresh', () => {
  it('swaps the set atomically and keeps the last good set when loading fails', async () => {
    const a = mk({ name: 'a' });
    const b = mk({ name: 'b' });
    const ring = new KeyRing();
    expect(await ring.refresh(() => Promise.resolve([a.key]), () => 1)).toEqual({ ok: true, size: 1 });
    const failed = await ring.refresh(() => Promise.reject(new Error('store down')), () => 2);
    expect(failed).toMatchObject({ ok: false });
    expect(ring.loadedAt).toBe(1);
    expect(ring.authenticate(a.secret, NOW).ok).toBe(true);
    // A revocation arrives with the next refresh.
    await ring.refresh(() => Promise.resolve([{ ...a.key, revoked: true, version: 2 }, b.key]), () => 3);
    expect(ring.authenticate(a.secret, NOW)).toMatchObject({ ok: false, refusal: { code: 'key_revoked' } });
    expect(ring.authenticate(b.secret, NOW).ok).toBe(true);
    expect(ring.size).toBe(2);
  });

  it('startKeyRefresh reloads on schedule, one at a time, until stopped', async () => {
    const ring = new KeyRing();
    const pending: (() => void)[] = [];
    let loads = 0;
    const results: boolean[] = [];
    const stop = startKeyRefresh(ring, {
      load: () => {
        loads++;
        return loads === 2 ? Promise.reject(new Error('down')) : Promise.resolve([mk().key]);
      },
      intervalMs: 5000,
      now: () => NOW,
      onResult: (r) => results.push(r.ok),
      schedule: (fn, ms) => {
        expect(ms).toBe(5000);
        pending.push(fn);
        return () => pending.splice(pending.indexOf(fn), 1);
      },
    });
    for (let i = 0; i < 3; i++) {
      expect(pending).toHaveLength(1);
      pending.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(results).toEqual([true, false, true]);
    stop();
    expect(pending).toHaveLength(0);
    expect(ring.size).toBe(1);
  });
});

describe('checkModel', () => {
  it('allows listed aliases (or all when the list is empty) and refuses others with 403', () => {
    const { key } = mk({ models: ['fast', 'smart'] });
    expect(checkModel(key, 'fast').ok).toBe(true);
    expect(checkModel(mk().key, 'anything').ok).toBe(true);
    const r = checkModel(key, 'gpt-4o\u0000');
    expect(r).toMatchObject({ ok: false, refusal: { status: 403, type: 'permission_error', code: 'model_not_allowed' } });
    if (!r.ok) expect(r.refusal.message).toBe('Key "app-x" is not allowed to use model "gpt-4o?". Allowed: fast, smart.');
  });
});
