import { describe, expect, it } from 'vitest';
import { groupFields, patchedGroupFields, toScimGroup } from './groups.ts';
import { SCHEMA } from './protocol.ts';
import type { GroupRecord } from '../store/scim-groups.ts';

const record: GroupRecord = {
  id: 'grp_1', version: 1, display_name: 'gatelog-admins', external_id: 'ext-1', members: ['usr_a', 'usr_b'], deleted: false,
  created_at: '2026-12-01T00:00:00.000Z', updated_at: '2026-12-01T00:00:00.000Z', updated_by: 'token:okta',
};
const group = toScimGroup(record, 'http://gl/scim/v2');
const body = (...Operations: unknown[]) => ({ schemas: [SCHEMA.patchOp], Operations });
const same = { displayName: 'gatelog-admins', externalId: 'ext-1', members: ['usr_a', 'usr_b'] };

describe('patchedGroupFields', () => {
  it.each([
    ['Okta adds members', body({ op: 'add', path: 'members', value: [{ value: 'usr_c', display: 'c@example.com' }] }), { ...same, members: ['usr_a', 'usr_b', 'usr_c'] }],
    ['Okta removes by filter', body({ op: 'remove', path: 'members[value eq "usr_a"]' }), { ...same, members: ['usr_b'] }],
    ['Entra removes by value list', body({ op: 'Remove', path: 'members', value: [{ value: 'usr_a' }, { value: 'usr_b' }] }), { ...same, members: [] }],
    ['Entra adds (capitalised)', body({ op: 'Add', path: 'members', value: [{ value: 'usr_a' }, { value: 'usr_d' }] }), { ...same, members: ['usr_a', 'usr_b', 'usr_d'] }],
    ['Okta replaces members', body({ op: 'replace', path: 'members', value: [{ value: 'usr_z' }] }), { ...same, members: ['usr_z'] }],
    ['Okta renames, carrying the id along', body({ op: 'replace', value: { id: 'grp_1', displayName: 'gatelog-owners' } }), { ...same, displayName: 'gatelog-owners' }],
    ['Entra renames', body({ op: 'Replace', path: 'displayName', value: 'ops' }), { ...same, displayName: 'ops' }],
  ])('%s', (_n, b, want) => {
    expect(patchedGroupFields(group, b)).toEqual(want);
  });

  it.each([
    ['another id', body({ op: 'replace', value: { id: 'grp_2', displayName: 'x' } }), 'mutability'],
    ['an unknown path', body({ op: 'add', path: 'owners', value: [] }), 'invalidPath'],
    ['a member without a value', body({ op: 'add', path: 'members', value: [{ display: 'x' }] }), 'invalidValue'],
    ['an empty name', body({ op: 'replace', path: 'displayName', value: ' ' }), 'invalidValue'],
    ['no PatchOp schema', { Operations: [{ op: 'add', path: 'members', value: [] }] }, 'invalidSyntax'],
  ])('400 for %s', (_n, b, scimType) => {
    expect(() => patchedGroupFields(group, b)).toThrow(expect.objectContaining({ status: 400, scimType }) as Error);
  });
});

describe('groupFields', () => {
  it('reads a whole group, members deduplicated', () => {
    expect(groupFields({ schemas: [SCHEMA.group], displayName: ' team-red ', members: [{ value: 'usr_b' }, { value: 'usr_a' }, { value: 'usr_b' }] }))
      .toEqual({ displayName: 'team-red', externalId: '', members: ['usr_a', 'usr_b'] });
  });
  it('refuses an unknown attribute and a missing schema', () => {
    expect(() => groupFields({ schemas: [SCHEMA.group], displayName: 'x', colour: 'red' })).toThrow(expect.objectContaining({ scimType: 'invalidSyntax' }) as Error);
    expect(() => groupFields({ displayName: 'x' })).toThrow(expect.objectContaining({ scimType: 'invalidSyntax' }) as Error);
  });
});
