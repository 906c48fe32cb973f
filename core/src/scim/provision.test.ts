// Concurrent creations of one address: an identity provider retrying a POST /Users it thinks
// timed out, or an admin creating the person the provider is provisioning, must leave one person
// (the rest answered 409), on a real store — the uniqueness check reads what an insert wrote.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { OidcConfig } from '../auth/oidc-config.ts';
import { createPerson, PeopleError, type Acting } from '../people.ts';
import { listUsers } from '../store/users.ts';
import { ScimError } from './protocol.ts';
import { createScimUser, updateScimUser } from './provision.ts';
import { userFields } from './user-resource.ts';

const OIDC = OidcConfig.parse({ issuer: 'https://idp.example.com', client_id: 'gatelog', client_secret: 'x', default_role: 'viewer' });
const acting: Acting = { by: { kind: 'token', id: 'tok_scim', name: 'token:scim', role: 'admin', teams: [] }, sourceIp: '127.0.0.1', userAgent: 'Okta SCIM', now: Date.UTC(2026, 11, 5) };
const fields = (userName: string, externalId?: string) => userFields({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, ...(externalId ? { externalId } : {}) });

let t: TempStore;
beforeAll(async () => {
  t = await tempEmbeddedStore('scim-race');
});
afterAll(async () => {
  await t?.close();
});

const statusOf = (r: PromiseSettledResult<unknown>): number | 'created' =>
  r.status === 'fulfilled' ? 'created' : r.reason instanceof ScimError || r.reason instanceof PeopleError ? r.reason.status : Number.NaN;

const peopleWith = async (email: string) => (await listUsers(t.store)).filter((u) => u.email === email);

describe('one person per address under concurrent writes', () => {
  it('five concurrent SCIM creations of one userName: one person, four 409s', async () => {
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => createScimUser(t.store, acting, OIDC, fields('Ada@Example.com', `ext-${i}`))));
    expect(results.map(statusOf).sort()).toEqual([409, 409, 409, 409, 'created']);
    expect(await peopleWith('ada@example.com')).toHaveLength(1);
  });

  it('a SCIM creation and the people API at once: one person', async () => {
    const results = await Promise.allSettled([
      createPerson(t.store, acting, { email: 'grace@example.com', name: 'Grace', role: 'viewer' }),
      createScimUser(t.store, acting, OIDC, fields('grace@example.com')),
      createPerson(t.store, acting, { email: 'GRACE@example.com', name: 'Grace', role: 'viewer' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.map(statusOf).filter((s) => s !== 'created')).toEqual([409, 409]);
    expect(await peopleWith('grace@example.com')).toHaveLength(1);
  });

  it('a rename to an address being created at the same time: one of them is refused', async () => {
    const linus = await createScimUser(t.store, acting, OIDC, fields('linus@example.com'));
    const results = await Promise.allSettled([
      updateScimUser(t.store, acting, linus, fields('ken@example.com')),
      createScimUser(t.store, acting, OIDC, fields('ken@example.com')),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await peopleWith('ken@example.com')).toHaveLength(1);
  });
});
