import { fail, redirect } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { checkMasterKey, createSessionToken, safeNext, SESSION_COOKIE, SESSION_TTL_MS } from '#lib/server/session.server.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url }) => {
  const next = safeNext(url.searchParams.get('next'));
  if (!locals.authRequired || locals.authed) redirect(303, next);
  return { next };
};

export const actions: Actions = {
  default: async ({ request, cookies, url }) => {
    const { masterKey } = await uiContext();
    const form = await request.formData();
    const next = safeNext(String(form.get('next') ?? ''));
    if (masterKey === undefined) redirect(303, next);
    const candidate = form.get('key');
    if (typeof candidate !== 'string' || !checkMasterKey(masterKey, candidate)) {
      return fail(401, { message: 'That key is not the master key.' });
    }
    cookies.set(SESSION_COOKIE, createSessionToken(masterKey), {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: url.protocol === 'https:',
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    redirect(303, next);
  },
};
