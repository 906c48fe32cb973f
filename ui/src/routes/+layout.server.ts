import { can } from '@gatelog/core/roles';
import type { LayoutServerLoad } from './$types';

// Server-rendered HTML only, for now: links, GET filter forms, POST sign-in and <details>
// toggles need no client script, so the CSP can stay strict (SvelteKit's client router
// would also set inline style attributes, e.g. its route announcer, that `style-src 'self'`
// refuses). A page that needs client code later can opt in with `export const csr = true`.
export const csr = false;

export const load: LayoutServerLoad = ({ locals }) => {
  const p = locals.principal;
  return {
    authRequired: locals.authRequired,
    authed: locals.authed,
    /** Who is signed in and what the navigation offers them (roles.ts). */
    who: p ? { name: p.name, role: p.role, teams: p.teams } : null,
    nav: { keys: !!p && can(p.role, 'keys.read'), people: !!p && can(p.role, 'people.read'), audit: !!p && can(p.role, 'audit.read'), replay: !!p && can(p.role, 'bodies.read') && can(p.role, 'calls.replay') },
  };
};
