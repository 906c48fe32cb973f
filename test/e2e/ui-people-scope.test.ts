// The People page for a team-scoped admin: the built UI served over real HTTP on a real chDB
// store (as the embedded launcher serves it), signed in through a real one-time link. It lists the people of its own team only, and a
// form that would give another team (or every team), or take a sign-in link for another team's
// person, answers 403 with the reason shown on the page and no link.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASTER_PRINCIPAL } from '@gatelog/core/roles';
import { createPerson } from '@gatelog/core/people';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';
import { startUiServer, type UiServer } from '../support/ui-server.ts';

const MASTER = `mk-${randomUUID()}`;
const PASSWORD = 'correct horse battery staple';
const tag = randomUUID().slice(0, 6);
const RED = `red-${tag}`;
const BLUE = `blue-${tag}`;
const email = (name: string): string => `${name}-${tag}@example.com`;

let db: TempStore;
let ui: UiServer;
let redAdmin: string;
const ids = new Map<string, string>();

const cookieOf = (r: Response): string => (r.headers.getSetCookie().find((c) => c.startsWith('gatelog_session=')) ?? '').split(';')[0]!;

async function person(name: string, role: string, teams: string[]): Promise<string> {
  const r = await createPerson(db.store, { by: MASTER_PRINCIPAL, sourceIp: '127.0.0.1', userAgent: 'test', now: Date.now() }, { email: email(name), role, teams });
  ids.set(name, r.user.id);
  return r.link.path;
}

const form = (action: string, fields: Record<string, string>): Promise<Response> =>
  fetch(`${ui.base}/people?/${action}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: redAdmin, origin: ui.base, 'x-forwarded-proto': 'http', accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });

async function refusedOnPage(r: Response): Promise<void> {
  const html = await r.text();
  expect(r.status).toBe(403);
  expect(html).toMatch(/role="alert"[^>]*>[^<]*own teams only/);
  expect(html).not.toContain('gli-');
}

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-ui-people-scope');
  ui = await startUiServer(db.store, MASTER);
  const path = await person('red-admin', 'admin', [RED]);
  await person('red-viewer', 'viewer', [RED]);
  await person('blue-viewer', 'viewer', [BLUE]);
  await person('all-viewer', 'viewer', []);
  const token = new URL(path, ui.base).searchParams.get('token')!;
  const signin = await fetch(`${ui.base}/login/invite?token=${encodeURIComponent(token)}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: ui.base, 'x-forwarded-proto': 'http' },
    body: new URLSearchParams({ token, password: PASSWORD, confirm: PASSWORD }).toString(),
  });
  expect(signin.status, await signin.clone().text()).toBe(303);
  redAdmin = cookieOf(signin);
  expect(redAdmin).toMatch(/^gatelog_session=/);
}, 90_000);

afterAll(async () => {
  await ui?.close();
  await db?.close();
});

describe('the People page of a team-scoped admin', () => {
  it('lists the people of its own team only', async () => {
    const html = await (await fetch(`${ui.base}/people`, { headers: { cookie: redAdmin, 'x-forwarded-proto': 'http' } })).text();
    expect(html).toContain(email('red-viewer'));
    expect(html).not.toContain(email('blue-viewer'));
    expect(html).not.toContain(email('all-viewer'));
  });

  it('refuses to add a person of another team or of every team', async () => {
    await refusedOnPage(await form('create', { email: email('new-blue'), role: 'viewer', teams: BLUE }));
    await refusedOnPage(await form('create', { email: email('new-all'), role: 'admin', teams: '' }));
  });

  it('refuses to widen a person\'s teams or take a sign-in link for another team\'s person', async () => {
    await refusedOnPage(await form('update', { id: ids.get('red-viewer')!, change: 'role', role: 'viewer', teams: '' }));
    await refusedOnPage(await form('update', { id: ids.get('blue-viewer')!, change: 'link' }));
    await refusedOnPage(await form('update', { id: ids.get('all-viewer')!, change: 'link' }));
  });

  it('adds a person of its own team and shows the sign-in link', async () => {
    const r = await form('create', { email: email('new-red'), role: 'viewer', teams: RED });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('/login/invite?token=gli-');
  });
});
