// /people (owner, admin; auditor reads): who can sign in, with which role and team scope, and
// the machine tokens. Changes go through core's people.ts (the same rules and audit rows as
// the admin API), acting as the signed-in person: a team-scoped person sees and changes only
// people and tokens of its own teams (core's `manages`). A new sign-in link is shown once, here.
// Embedded, the page calls people.ts in process; a UI running on its own (GATELOG_ADMIN_URL:
// its ClickHouse user may only read) sends the change to the proxy's admin API instead, for the
// signed-in person (x-gatelog-acting-for), which applies the same people.ts there.
import { error, fail, type RequestEvent } from '@sveltejs/kit';
import { ROLES, can, type Principal } from '@gatelog/core/roles';
import { PeopleError, createPerson, erasePerson, managedBy, publicToken, publicUser, updatePerson, type Acting } from '@gatelog/core/people';
import { listTokens, listUsers, userById } from '@gatelog/core/store/users';
import { uiContext } from '#lib/server/context.server.ts';
import { adminBaseUrl, adminCall, failStatus } from '#lib/server/admin-api.server.ts';
import { clientIp } from '#lib/server/audit.server.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  const { store } = await uiContext();
  const p = locals.principal;
  if (!p) error(401, 'Sign in first.');
  return {
    people: managedBy(p, await listUsers(store)).map(publicUser),
    tokens: managedBy(p, await listTokens(store)).map(publicToken),
    roles: ROLES,
    canWrite: can(p.role, 'people.write'),
    /** The signed-in person's team scope (empty = every team): the teams it may give others. */
    scope: p.teams,
  };
};

function acting(event: RequestEvent): Acting {
  const by: Principal | undefined = event.locals.principal;
  if (!by) error(401, 'Sign in first.');
  return { by, sourceIp: clientIp(event), userAgent: event.request.headers.get('user-agent') ?? '', now: Date.now() };
}

const teamsOf = (v: FormDataEntryValue | null): string[] => String(v ?? '').split(',').map((t) => t.trim()).filter(Boolean);

async function attempt<T>(action: string, f: () => Promise<T>) {
  try {
    return await f();
  } catch (err) {
    if (err instanceof PeopleError) return fail(err.status, { action, message: err.message });
    throw err;
  }
}

/** What the admin API answered for a person written (`POST /admin/users`, `PATCH /admin/users/:id`). */
interface Written {
  user?: { email?: unknown };
  sign_in_path?: unknown;
  link_expires_at?: unknown;
}

/** A change sent to the proxy's admin API (standalone UI), as the page shows its outcome. */
async function throughApi(event: RequestEvent, adminUrl: string, action: string, method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: object) {
  const { masterKey } = await uiContext();
  const r = await adminCall(adminBaseUrl(event, adminUrl), masterKey, method, path, body, undefined, acting(event).by);
  if (!r.ok) return fail(failStatus(r.status), { action, message: r.message });
  const w = (r.body ?? {}) as Written;
  const link = typeof w.sign_in_path === 'string' ? `${event.url.origin}${w.sign_in_path}` : undefined;
  return { action, email: String(w.user?.email ?? ''), link, expiresAt: typeof w.link_expires_at === 'string' ? w.link_expires_at : undefined };
}

export const actions: Actions = {
  create: async (event) => {
    const form = await event.request.formData();
    const { store, adminUrl } = await uiContext();
    const input = { email: String(form.get('email') ?? ''), role: String(form.get('role') ?? ''), teams: teamsOf(form.get('teams')) };
    if (adminUrl) return throughApi(event, adminUrl, 'create', 'POST', '/admin/users', input);
    return attempt('create', async () => {
      const r = await createPerson(store, acting(event), input);
      return { action: 'create', email: r.user.email, link: `${event.url.origin}${r.link.path}`, expiresAt: r.link.expiresAt };
    });
  },

  update: async (event) => {
    const form = await event.request.formData();
    const { store, adminUrl } = await uiContext();
    const cur = await userById(store, String(form.get('id') ?? '').slice(0, 128));
    if (!cur) return fail(404, { action: 'update', message: 'No person with this id.' });
    const change = String(form.get('change') ?? '');
    const patch = change === 'disable' ? { disabled: true } : change === 'enable' ? { disabled: false } : change === 'link' ? { new_link: true } : { role: String(form.get('role') ?? ''), teams: teamsOf(form.get('teams')) };
    if (adminUrl) return throughApi(event, adminUrl, 'update', 'PATCH', `/admin/users/${encodeURIComponent(cur.id)}`, patch);
    return attempt('update', async () => {
      const r = await updatePerson(store, acting(event), cur, patch);
      return { action: 'update', email: r.user.email, link: r.link ? `${event.url.origin}${r.link.path}` : undefined, expiresAt: r.link?.expiresAt };
    });
  },

  /** Delete a person (offered once they are disabled): their record goes, the audit trail keeps what they did. */
  remove: async (event) => {
    const form = await event.request.formData();
    const { store, adminUrl } = await uiContext();
    const cur = await userById(store, String(form.get('id') ?? '').slice(0, 128));
    if (!cur) return fail(404, { action: 'remove', message: 'No person with this id.' });
    if (adminUrl) {
      const r = await throughApi(event, adminUrl, 'remove', 'DELETE', `/admin/users/${encodeURIComponent(cur.id)}`);
      return 'email' in r ? { action: 'remove', email: cur.email, deleted: true } : r;
    }
    return attempt('remove', async () => {
      await erasePerson(store, acting(event), cur);
      return { action: 'remove', email: cur.email, deleted: true };
    });
  },
};
