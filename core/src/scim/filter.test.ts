import { describe, expect, it } from 'vitest';
import { groupLookup, userLookup } from './filter.ts';
import { ScimError } from './protocol.ts';

describe('userLookup', () => {
  it.each([
    ['userName eq "Ana@Example.com"', { attr: 'userName', value: 'ana@example.com' }],
    ['username EQ "ana@example.com"', { attr: 'userName', value: 'ana@example.com' }],
    ['externalId eq "00u1abcd"', { attr: 'externalId', value: '00u1abcd' }],
    ['externalId eq "Case-Kept"', { attr: 'externalId', value: 'Case-Kept' }],
    ['id eq "usr_1"', { attr: 'id', value: 'usr_1' }],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a@b.c"', { attr: 'userName', value: 'a@b.c' }],
  ])('%s', (filter, want) => {
    expect(userLookup(filter)).toEqual(want);
  });

  it('no filter is every person', () => {
    expect(userLookup(undefined)).toBeUndefined();
    expect(userLookup('  ')).toBeUndefined();
  });

  it.each([
    'userName eq',
    'userName eq "unterminated',
    '(((',
    'userName co "ana"',
    'userName eq "a" and externalId eq "b"',
    'title eq "x"',
    'active eq true',
    'userName eq 3',
    `userName eq "${'a'.repeat(2000)}"`,
  ])('400 invalidFilter for %s', (filter) => {
    const e = (() => { try { userLookup(filter); } catch (err) { return err; } return undefined; })();
    expect(e).toBeInstanceOf(ScimError);
    expect(e).toMatchObject({ status: 400, scimType: 'invalidFilter' });
  });
});

describe('groupLookup', () => {
  it('displayName eq (as sent, matched case-insensitively by the store), externalId and id', () => {
    expect(groupLookup('displayName eq "gatelog-admins"')).toEqual({ attr: 'displayName', value: 'gatelog-admins' });
    expect(groupLookup('externalId eq "8f1c"')).toEqual({ attr: 'externalId', value: '8f1c' });
    expect(() => groupLookup('userName eq "a@b.c"')).toThrow(expect.objectContaining({ scimType: 'invalidFilter' }) as Error);
  });
});
