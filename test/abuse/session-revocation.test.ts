// UI sessions end server-side: a cookie copied before sign-out is refused after it; a new
// sign-in rotates the session; wrong keys lock the account out (429 + Retry-After, even for
// the right key); every sign-in, failed or not, and every sign-out is in the admin audit log.
// Against a real `gatelog start` process, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'master-key-session-tests';

describe('server-side UI sessions', () => {
  let gl: GatelogProcess;
  beforeAll(async () => {
    gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 60_000 });
  }, 90_000);
  afterAll(async () => {
    await gl?.stop();
  });

  const post = (path: string, form: Record<string, string>, cookie?: string, ua = 'session-test'): Promise<Response> =>
    fetch(`${gl.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: gl.url, 'user-agent': ua, ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(form).toString(),
    });
  const page = (path: string, cookie: string): Promise<Response> => fetch(`${gl.url}${path}`, { redirect: 'manual', headers: { cookie } });
  const cookieOf = (r: Response): string => (r.headers.getSetCookie().find((c) => c.startsWith('gatelog_session=')) ?? '').split(';')[0]!;
  const audit = async (action: string): Promise<{ actor: string; role: string; action: string; target: string; details: string; source_ip: string; user_agent: string }[]> => {
    const r = await fetch(`${gl.url}/admin/audit?limit=1000&action=${action}`, { headers: { authorization: `Bearer ${MASTER}` } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { data: { actor: string; role: string; action: string; target: string; details: string; source_ip: string; user_agent: string }[] }).data;
  };

  it('sign-out ends the session: a copied cookie is refused afterwards', async () => {
    const signin = await post('/login', { key: MASTER, next: '/requests' });
    expect(signin.status).toBe(303);
    const cookie = cookieOf(signin);
    expect(cookie).toMatch(/^gatelog_session=[A-Za-z0-9_-]{43}$/);
    expect(cookie).not.toContain(MASTER);
    const copy = cookie;
    expect((await page('/requests', copy)).status).toBe(200);

    const out = await post('/logout', {}, cookie);
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login');
    // The browser's cookie is cleared, and the copy is dead on the server.
    const again = await page('/requests', copy);
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toMatch(/^\/login\?next=/);
    expect((await page('/keys', copy)).status).toBe(303);

    const outs = await audit('signout');
    expect(outs.length).toBe(1);
    expect(outs[0]).toMatchObject({ actor: 'master', target: 'master' });
    expect(outs[0]!.user_agent).toBe('session-test');
    expect(outs[0]!.role).toBe('owner');
  });

  it('a new sign-in rotates the session: the old cookie dies', async () => {
    const first = cookieOf(await post('/login', { key: MASTER, next: '/requests' }));
    expect((await page('/requests', first)).status).toBe(200);
    const second = cookieOf(await post('/login', { key: MASTER, next: '/requests' }, first));
    expect(second).not.toBe(first);
    expect((await page('/requests', first)).status).toBe(303);
    expect((await page('/requests', second)).status).toBe(200);
    expect((await page('/requests', 'gatelog_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(303);
  });

  it('wrong keys lock sign-in out (429, Retry-After), even for the right key, and every failure is audited', async () => {
    const before = (await audit('signin.failure')).length;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r = await post('/login', { key: `wrong-${i}`, next: '/requests' }, undefined, 'guesser/1.0');
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
      expect(r.headers.getSetCookie().some((c) => /gatelog_session=[A-Za-z0-9]/.test(c))).toBe(false);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);

    const right = await post('/login', { key: MASTER, next: '/requests' });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(cookieOf(right)).toBe('');

    const failures = await audit('signin.failure');
    // Five wrong keys, plus one row for the lockout (a flood is not a row per request).
    expect(failures.length - before).toBe(6);
    const guessed = failures.filter((f) => f.user_agent === 'guesser/1.0');
    expect(guessed.filter((f) => f.details.includes('bad_credentials')).length).toBe(5);
    expect(failures.some((f) => f.details.includes('"locked"'))).toBe(true);
    for (const f of failures) {
      expect(f.source_ip).not.toBe('');
      expect(f.details).not.toContain('wrong-');
      expect(f.details).not.toContain(MASTER);
    }
    const successes = await audit('signin.success');
    expect(successes.length).toBe(3);
    expect(successes.every((s) => s.actor === 'master')).toBe(true);
    expect(gl.logs()).not.toContain(MASTER);
  });
});
