// /keys: every virtual key with its spend in the current budget period and its last use,
// plus create, rotate and revoke. Only signed-in sessions get here (hooks.server.ts); the rows carry
// no hash or secret (core listKeyViews builds them field by field). Writes are form actions
// (POST, SvelteKit's origin check) that call the proxy's admin API server-side with the master
// key; a new secret is returned in that one response only (no redirect, cookie or URL holds it).
// The API sees the master key, not the person, so each action first applies the person's team
// scope with the API's own rule (core key-scope.ts): a key of another team does not exist for
// them, and a new key must be in one of their teams.
import { error, fail, type RequestEvent } from '@sveltejs/kit';
import { keyWriteRefusal } from '@gatelog/core/key-scope';
import type { Principal } from '@gatelog/core/roles';
import { listKeyViews } from '@gatelog/core/store/key-stats';
import { BUDGET_PERIODS, keyById } from '@gatelog/core/store/keys';
import { uiContext } from '#lib/server/context.server.ts';
import { adminBaseUrl, adminCall, failStatus } from '#lib/server/admin-api.server.ts';
import { keyCreateBody } from '#lib/key-form.ts';
import { visible } from '#lib/server/permissions.server.ts';
import type { Actions, PageServerLoad } from './$types';

const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
export const load: PageServerLoad = async ({ locals }) => {
  const { store } = await uiContext();
  const now = Date.now();
  try {
    const teams = locals.principal?.teams ?? [];
    return { keys: (await listKeyViews(store, now)).filter((k) => visible(locals.principal, k.team)), now: new Date(now).toISOString(), periods: BUDGET_PERIODS, teams };
  } catch (err) {
    console.error('gatelog ui: listing keys failed', err);
    error(500, 'keys could not be read');
  }
};

interface CreatedKey {
  id: string;
  name: string;
  key_prefix: string;
}

function createdKey(body: unknown): { key: CreatedKey; secret: string } | null {
  const b = body as { key?: Partial<CreatedKey>; secret?: unknown } | null;
  const k = b?.key;
  if (!k || typeof k.id !== 'string' || typeof b.secret !== 'string') return null;
  return { key: { id: k.id, name: String(k.name ?? ''), key_prefix: String(k.key_prefix ?? '') }, secret: b.secret };
}

/** The signed-in person (hooks.server.ts sets it; an open gatelog acts as an owner of every team). */
function acting(event: RequestEvent): Principal {
  const p = event.locals.principal;
  if (!p) error(401, 'Sign in first.');
  return p;
}

export const actions: Actions = {
  create: async (event) => {
    const who = acting(event);
    const body = keyCreateBody(await event.request.formData());
    const scope = keyWriteRefusal(who, null, body['team'] ?? '');
    if (scope) return fail(scope.status, { action: 'create' as const, message: scope.message, values: body });
    const { masterKey, adminUrl } = await uiContext();
    const r = await adminCall(adminBaseUrl(event, adminUrl), masterKey, 'POST', '/admin/keys', body, undefined, who);
    if (!r.ok) return fail(failStatus(r.status), { action: 'create' as const, message: r.message, values: body });
    const created = createdKey(r.body);
    if (!created) return fail(502, { action: 'create' as const, message: 'The admin API answered without a key.', values: body });
    return { action: 'create' as const, created: created.key, secret: created.secret };
  },

  // Two steps, no client script: the first POST asks for confirmation, the second (with
  // confirm=yes) revokes.
  revoke: async (event) => {
    const form = await event.request.formData();
    const k = await keyInScope(event, form);
    if ('refused' in k) return fail(k.refused.status, { action: 'revoke' as const, message: k.refused.message });
    const { id, name, who } = k;
    if (form.get('confirm') !== 'yes') return { action: 'revoke' as const, confirm: { id, name } };
    const { masterKey, adminUrl } = await uiContext();
    const r = await adminCall(adminBaseUrl(event, adminUrl), masterKey, 'DELETE', `/admin/keys/${encodeURIComponent(id)}`, undefined, undefined, who);
    if (!r.ok) return fail(failStatus(r.status), { action: 'revoke' as const, message: r.message });
    return { action: 'revoke' as const, revoked: { id, name } };
  },

  // A new secret for the key (same id, team, limits, budget): the first POST asks how long the
  // old secret keeps working, the second rotates and shows the new secret once, as create does.
  rotate: async (event) => {
    const form = await event.request.formData();
    const k = await keyInScope(event, form);
    if ('refused' in k) return fail(k.refused.status, { action: 'rotate' as const, message: k.refused.message });
    const { id, name, who } = k;
    if (form.get('confirm') !== 'yes') return { action: 'rotate' as const, confirmRotate: { id, name } };
    const grace = String(form.get('grace') ?? '');
    if (!ROTATION_GRACES.includes(grace)) return fail(400, { action: 'rotate' as const, message: 'Choose how long the old secret keeps working.' });
    const { masterKey, adminUrl } = await uiContext();
    const r = await adminCall(adminBaseUrl(event, adminUrl), masterKey, 'POST', `/admin/keys/${encodeURIComponent(id)}/rotate`, { grace }, undefined, who);
    if (!r.ok) return fail(failStatus(r.status), { action: 'rotate' as const, message: r.message });
    const created = createdKey(r.body);
    if (!created) return fail(502, { action: 'rotate' as const, message: 'The admin API answered without a secret.' });
    const until = (r.body as { key?: { previous_valid_until?: unknown } }).key?.previous_valid_until;
    return { action: 'rotate' as const, created: created.key, secret: created.secret, previousUntil: typeof until === 'string' ? until : null };
  },
};

/** How long a rotated key's old secret may keep working, as the page offers it. */
const ROTATION_GRACES = ['0s', '1h', '24h', '7d'];

/**
 * The form's key, if the signed-in person may change it: the API's team rule (a key of another
 * team does not exist for them), applied before the API is called with the master key.
 */
async function keyInScope(event: RequestEvent, form: FormData): Promise<{ id: string; name: string; who: Principal } | { refused: { status: number; message: string } }> {
  const id = form.get('id');
  if (typeof id !== 'string' || !ID_RE.test(id)) return { refused: { status: 400, message: 'The key id is malformed.' } };
  const name = String(form.get('name') ?? '').slice(0, 128);
  const who = acting(event);
  const { store } = await uiContext();
  const key = await keyById(store, id);
  const scope = key ? keyWriteRefusal(who, key.team, key.team) : { status: 404 as const, message: 'No virtual key with this id.' };
  return scope ? { refused: scope } : { id, name, who };
}
