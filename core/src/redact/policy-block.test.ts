// `redaction.block` in configuration: what a name may be, that a name nothing can find is
// refused at start, and how the lists of the configuration, an alias and a key add up.
import { describe, expect, it } from 'vitest';
import { createPrivacy, RedactionConfig } from './policy.ts';

const who = (alias: string, keyId = '', keyName = '') => ({ alias, keyId, keyName });
const problems = (input: unknown): string[] => {
  const r = RedactionConfig.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('redaction.block configuration', () => {
  it('takes detectors, their placeholder types and custom pattern names', () => {
    expect(problems({ block: ['secrets', 'card', 'AWS_KEY', 'ORDER'], custom: [{ name: 'ORDER', pattern: 'ORD-[0-9]{7}' }] })).toEqual([]);
    expect(problems({ aliases: { a: { mode: 'forward', block: ['iban'] }, b: 'off' }, keys: { k: { block: ['PRIVATE_KEY'] } } })).toEqual([]);
  });

  it('refuses a name nothing would find, saying where', () => {
    expect(problems({ block: ['passwords'] })[0]).toMatch(/^block\.0: "passwords" is not a detector/);
    expect(problems({ block: ['card'], detectors: ['email'] })[0]).toBe('block.0: "card" is found by the card detector, which redaction.detectors leaves out');
    expect(problems({ detectors: ['email'], keys: { app: { block: ['AWS_KEY'] } } })[0]).toBe('keys.app.block.0: "AWS_KEY" is found by the secrets detector, which redaction.detectors leaves out');
    expect(problems({ aliases: { a: { block: ['ORDER'] } } })[0]).toMatch(/^aliases\.a\.block\.0: "ORDER" is not/);
    expect(problems({ aliases: { a: { mode: 'everything' } } })).not.toEqual([]);
  });
});

describe('blocked kinds of one call', () => {
  const privacy = createPrivacy(RedactionConfig.parse({
    block: ['PRIVATE_KEY'],
    custom: [{ name: 'ORDER', pattern: 'ORD-[0-9]{7}' }],
    aliases: { payments: { block: ['card'] }, vendor: { mode: 'forward' } },
    keys: { key_1: { block: ['ORDER'] }, 'named-app': { block: ['secrets'] } },
  }));

  it('the global list alone, unless the alias or key adds to it', () => {
    expect(privacy.blocking).toBe(true);
    expect([...privacy.blocked(who('chat'))!]).toEqual(['PRIVATE_KEY']);
    expect([...privacy.blocked(who('payments'))!].sort()).toEqual(['CARD', 'PRIVATE_KEY']);
    expect([...privacy.blocked(who('payments', 'key_1'))!].sort()).toEqual(['CARD', 'ORDER', 'PRIVATE_KEY']);
    expect(privacy.blocked(who('chat', 'key_2', 'named-app'))).toContain('AWS_KEY');
    expect(privacy.blocked(who('chat', 'key_2', 'named-app'))).toContain('OPENAI_KEY');
  });

  it('a scoped policy with a mode keeps setting the mode', () => {
    expect(privacy.treatment({ ...who('vendor'), requested: null })).toEqual({ forward: true, store: 'redacted' });
    expect(privacy.treatment({ ...who('payments'), requested: null })).toEqual({ forward: false, store: 'redacted' });
  });

  it('nothing blocked anywhere: no call is screened', () => {
    const none = createPrivacy(RedactionConfig.parse({ aliases: { a: 'forward' } }));
    expect(none.blocking).toBe(false);
    expect(none.blocked(who('a'))).toBeNull();
    const onlyKey = createPrivacy(RedactionConfig.parse({ keys: { k: { block: ['card'] } } }));
    expect(onlyKey.blocking).toBe(true);
    expect(onlyKey.blocked(who('a'))).toBeNull();
    expect([...onlyKey.blocked(who('a', 'k'))!]).toEqual(['CARD']);
  });
});
