// The UI decides what a request needs from the page it reaches, not from how its path is
// spelled: SvelteKit decodes percent-escapes before matching a route, so `/%70eople` is the
// people page and must ask for people.read like `/people`. A viewer signed in through a real
// one-time link against a real `gatelog start` process, over real HTTP.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = `mk-${randomUUID()}`;
const PASSWORD = 'correct horse battery staple';

let gl: GatelogProcess;
let viewer: string;

const cookieOf = (r: Response): string => (r.headers.getSetCookie().find((c) => c.startsWith('gatelog_session=')) ?? '').split(';')[0]!;
const page = (path: string, cookie: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { redirect: 'manual', ...init, headers: { cookie, origin: gl.url, accept: 'text/html', ...(init.headers as Record<string, string> | undefined) } });

beforeAll(async () => {
  gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 60_000 });
  const made = await fetch(`${gl.url}/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `viewer-${randomUUID().slice(0, 6)}@example.com`, role: 'viewer' }),
  });
  expect(made.status, await made.clone().text()).toBe(201);
  const path = ((await made.json()) as { sign_in_path: string }).sign_in_path;
  const token = new URL(path, gl.url).searchParams.get('token')!;
  const signin = await fetch(`${gl.url}/login/invite?token=${encodeURIComponent(token)}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: gl.url },
    body: new URLSearchParams({ token, password: PASSWORD, confirm: PASSWORD }).toString(),
  });
  expect(signin.status).toBe(303);
  viewer = cookieOf(signin);
  expect(viewer).toMatch(/^gatelog_session=/);
}, 90_000);

afterAll(async () => {
  await gl?.stop();
});

describe('UI permissions follow the page, however its path is spelled', () => {
  it('a viewer is refused the people, audit and export pages under encoded paths too', async () => {
    expect((await page('/requests', viewer)).status).toBe(200);
    for (const path of ['/people', '/%70eople', '/p%65ople', '/audit', '/%61udit', '/%61udit/export', '/export', '/%65xport']) {
      const r = await page(path, viewer);
      expect(r.status, path).toBe(403);
      expect(await r.text(), path).toContain('not for your role');
    }
  });

  it('a viewer cannot post a key form through an encoded path', async () => {
    const r = await page('/%6Beys?/create', viewer, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'sneaky', team: '' }).toString(),
    });
    expect(r.status).toBe(403);
  });
});
