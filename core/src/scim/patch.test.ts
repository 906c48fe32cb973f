import { describe, expect, it } from 'vitest';
import { patchedFields } from './patch.ts';
import { SCHEMA } from './protocol.ts';
import { toScimUser } from './user-resource.ts';
import type { UserRecord } from '../store/users.ts';

const record: UserRecord = {
  id: 'usr_1', version: 1, email: 'ana@example.com', name: 'Ana Lima', role: 'viewer', teams: [], auth_source: 'oidc', oidc_subject: '',
  scim_external_id: '00u1', scim_state: 'managed', password_hash: '', invite_hash: '', invite_expires_at: null, disabled: false,
  created_at: '2026-12-01T00:00:00.000Z', updated_at: '2026-12-01T00:00:00.000Z', updated_by: 'token:okta',
};
const user = toScimUser(record, 'http://gl/scim/v2');
const body = (...Operations: unknown[]) => ({ schemas: [SCHEMA.patchOp], Operations });
const same = { email: 'ana@example.com', name: 'Ana Lima', active: true, externalId: '00u1' };

describe('patchedFields', () => {
  it.each([
    ['Okta deactivation', body({ op: 'replace', value: { active: false } }), { ...same, active: false }],
    ['Entra deactivation (capitalised op, string boolean)', body({ op: 'Replace', path: 'active', value: 'False' }), { ...same, active: false }],
    ['Entra reactivation', body({ op: 'Replace', path: 'active', value: 'True' }), same],
    ['Entra new userName', body({ op: 'Replace', path: 'userName', value: 'Ana.Lima@Example.com' }), { ...same, email: 'ana.lima@example.com' }],
    ['Entra displayName', body({ op: 'Add', path: 'displayName', value: 'Ana L.' }), { ...same, name: 'Ana L.' }],
    ['given and family names', body({ op: 'replace', path: 'name.givenName', value: 'Anna' }, { op: 'replace', path: 'name.familyName', value: 'Lima' }), { ...same, name: 'Anna Lima' }],
    ['dotted keys in a path-less value (Entra)', body({ op: 'Replace', value: { 'name.formatted': 'A. Lima', active: 'false' } }), { ...same, name: 'A. Lima', active: false }],
    ['emails filter path (kept, userName is the email)', body({ op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@example.com' }), same],
    ['enterprise extension path (not stored)', body({ op: 'Add', path: `${SCHEMA.enterpriseUser}:department`, value: 'R&D' }), same],
    ['externalId', body({ op: 'replace', path: 'externalId', value: '00u2' }), { ...same, externalId: '00u2' }],
    ['title (accepted, not stored)', body({ op: 'Add', path: 'title', value: 'Engineer' }), same],
    ['removing active leaves the person as they were', body({ op: 'remove', path: 'active' }), same],
  ])('%s', (_name, b, want) => {
    expect(patchedFields(user, b)).toEqual(want);
  });

  it.each([
    ['no PatchOp schema', { Operations: [{ op: 'replace', path: 'active', value: false }] }, 'invalidSyntax'],
    ['no operations', body(), 'invalidSyntax'],
    ['unknown op', body({ op: 'frob', path: 'active', value: false }), 'invalidSyntax'],
    ['unknown attribute', body({ op: 'replace', path: 'favouriteColour', value: 'red' }), 'invalidPath'],
    ['unknown attribute in a value', body({ op: 'replace', value: { favouriteColour: 'red' } }), 'invalidSyntax'],
    ['not a boolean', body({ op: 'replace', path: 'active', value: 'maybe' }), 'invalidValue'],
    ['id is read-only', body({ op: 'replace', path: 'id', value: 'usr_2' }), 'mutability'],
    ['userName not an email', body({ op: 'replace', path: 'userName', value: 'ana' }), 'invalidValue'],
    ['remove without a path', body({ op: 'remove' }), 'noTarget'],
  ])('400 %s', (_name, b, scimType) => {
    expect(() => patchedFields(user, b)).toThrow(expect.objectContaining({ status: 400, scimType }) as Error);
  });
});
