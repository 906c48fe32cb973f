// POST only: a GET link could sign people out cross-site. SvelteKit's origin check covers
// the form POST.
import { redirect } from '@sveltejs/kit';
import { SESSION_COOKIE } from '#lib/server/session.server.ts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = ({ cookies, url }) => {
  cookies.delete(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: url.protocol === 'https:' });
  redirect(303, '/login');
};
