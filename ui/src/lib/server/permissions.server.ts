// Which UI route needs which permission (core/src/roles.ts `can`): the one place pages,
// form actions and downloads are checked, by hooks.server.ts, before any loader runs.
// Bodies are the exception a page handles itself: a role without `bodies.read` still sees
// the call's metadata, with "hidden for your role" where a body would be (hideBodies).
import { can, mayReadBodies, type Action, type Principal } from '@gatelog/core/roles';
import type { Message } from '#lib/bodies.ts';

/** Longest prefix first. Pages not listed need `calls.read`. */
const READS: readonly (readonly [string, Action])[] = [
  ['/people', 'people.read'],
  ['/audit', 'audit.read'],
  ['/export', 'export'],
  ['/keys', 'keys.read'],
];
const WRITES: readonly (readonly [string, Action])[] = [
  ['/people', 'people.write'],
  ['/keys', 'keys.write'],
  ['/alerts', 'settings.write'],
];

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

/** The permission a request needs; null = none (sign-in, sign-out). */
export function actionFor(method: string, path: string): Action | null {
  if (under(path, '/login') || path === '/logout') return null;
  if (method !== 'GET' && method !== 'HEAD') {
    for (const [prefix, action] of WRITES) if (under(path, prefix)) return action;
  }
  for (const [prefix, action] of READS) if (under(path, prefix)) return action;
  return 'calls.read';
}

export function allowed(p: Principal, method: string, path: string): boolean {
  const action = actionFor(method, path);
  return action === null || can(p.role, action);
}

export const HIDDEN = 'hidden for your role';
const hiddenMessages: Message[] = [{ role: 'hidden', note: HIDDEN, parts: [{ kind: 'text', text: HIDDEN }] }];

/** A call as a role without `bodies.read` sees it: metadata only. */
export function hideBodies<C extends { request_body: string; response_body: string; attempt_io?: { request_body: string; response_body: string }[] }>(call: C): { call: C; prompt: Message[]; answer: Message[]; curl: string; bodiesHidden: true } {
  // Each attempt's upstream request and raw response are bodies too (attempt_io, migration 0013).
  const attemptIo = call.attempt_io?.map((a) => ({ ...a, request_body: a.request_body && HIDDEN, response_body: a.response_body && HIDDEN }));
  return { call: { ...call, request_body: HIDDEN, response_body: HIDDEN, ...(attemptIo ? { attempt_io: attemptIo } : {}) }, prompt: hiddenMessages, answer: hiddenMessages, curl: HIDDEN, bodiesHidden: true };
}

export { mayReadBodies };

/** List and thread rows: the prompt preview is body text too. */
export function previewsFor<R extends { preview: string }>(p: Principal | undefined, rows: R[]): R[] {
  return mayReadBodies(p) ? rows : rows.map((r) => ({ ...r, preview: HIDDEN }));
}

/** The store filter for a team-scoped person (`{}` = every team). */
export function scopeOf(p: Principal | undefined): { teams?: readonly string[] } {
  return p && p.teams.length ? { teams: p.teams } : {};
}

/** Whether a row of `team` is inside the person's scope. */
export const visible = (p: Principal | undefined, team: string): boolean => !p || p.teams.length === 0 || p.teams.includes(team);
