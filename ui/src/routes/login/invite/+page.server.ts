// The one-time sign-in link printed by `gatelog users create` (or a new link from the People
// page): the person sets a password, the link is spent, and they are signed in. The link's
// token is a secret like a password: only its SHA-256 is stored.
import { fail, redirect } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { auditUi, clientIp } from '#lib/server/audit.server.ts';
import { inviteUser, setPassword, subjectOf } from '#lib/server/accounts.server.ts';
import { startSession } from '#lib/server/session.server.ts';
import { uiWrites } from '#lib/server/ui-writes.server.ts';
import { MIN_PASSWORD_LENGTH } from '@gatelog/core/auth/passwords';
import type { Actions, PageServerLoad } from './$types';

const INVALID = 'This sign-in link is not valid any more (used, replaced or expired). Ask an admin for a new one.';

/** With `sso.oidc.password_sign_in: false` no password is set, so no link is honoured. */
const linksHonoured = (ctx: { oidc?: { password_sign_in: boolean } | undefined }): boolean => ctx.oidc?.password_sign_in !== false;

export const load: PageServerLoad = async ({ url }) => {
  const ctx = await uiContext();
  const token = url.searchParams.get('token');
  const user = linksHonoured(ctx) ? await inviteUser(ctx.store, token) : undefined;
  return { valid: !!user, email: user?.email ?? '', token: user ? token ?? '' : '', minLength: MIN_PASSWORD_LENGTH, invalidMessage: INVALID };
};

export const actions: Actions = {
  default: async (event) => {
    const ctx = await uiContext();
    const { store } = ctx;
    const form = await event.request.formData();
    const token = String(form.get('token') ?? '');
    const user = linksHonoured(ctx) ? await inviteUser(store, token) : undefined;
    if (!user) return fail(400, { message: INVALID });
    const password = String(form.get('password') ?? '');
    if (password !== String(form.get('confirm') ?? '')) return fail(400, { message: 'The two passwords differ.' });
    const problem = await setPassword(uiWrites(ctx), user, password);
    if (problem) return fail(400, { message: problem });
    const who = subjectOf(user);
    await auditUi(store, event, { actor: user.email, role: user.role, action: 'person.password_set', targetType: 'person', target: user.id, details: { via: 'sign_in_link' } });
    await startSession(ctx, event, who, clientIp(event));
    await auditUi(store, event, { actor: user.email, role: user.role, action: 'signin.success', targetType: 'account', target: user.id, details: { method: 'sign_in_link' } });
    redirect(303, '/requests');
  },
};
