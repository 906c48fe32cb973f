// The single sign-on state cookie: only this gatelog's master key opens it, whole and unexpired.
import { describe, expect, it } from 'vitest';
import { openState, sealState, type SsoState } from '../../ui/src/lib/server/oidc-state.server.ts';

const KEY = 'master-key-oidc-state';
const NOW = Date.UTC(2026, 11, 4);
const s: SsoState = { state: 'st', nonce: 'no', verifier: 've', next: '/requests', exp: NOW + 60_000 };

describe('sso state cookie', () => {
  it('opens what it sealed', () => {
    expect(openState(KEY, sealState(KEY, s), NOW)).toEqual(s);
  });
  it('refuses another key, a changed body or mac, an expired state and garbage', () => {
    const sealed = sealState(KEY, s);
    const [body, mac] = sealed.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...s, next: '/people' })).toString('base64url');
    for (const bad of [sealState('another-master-key', s), `${forged}.${mac}`, `${body}.${mac.slice(1)}x`, `${body}.`, body, '', undefined, '.'.repeat(5000)]) {
      expect(openState(KEY, bad, NOW), String(bad).slice(0, 40)).toBeUndefined();
    }
    expect(openState(KEY, sealed, NOW + 60_000)).toBeUndefined();
    expect(openState(KEY, sealState(KEY, { ...s, verifier: '' }), NOW)).toBeUndefined();
  });
});
