// GET /admin/calls as scripts use it, against a real `gatelog start` (master key set), with calls
// made by the real OpenAI and Anthropic SDKs: the explorer's filters (team, user, model, time,
// trace, status), keyset pages that cover every call once, a misspelt or malformed parameter
// answered 400 naming it (never a wider list), a team-scoped token that cannot widen its view
// by asking for another team, a body search that needs bodies.read and is audited, and the end
// user a request body names (OpenAI `user`, Anthropic `metadata.user_id`) recorded as the
// call's user. /admin/export and /admin/export/count refuse the same bad parameters, and every
// other admin read (audit, keys, alerts, holds, people, one call) a parameter it does not take.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newMachineToken, newVirtualKey } from '../support/admin-setup.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
const RED = `red-${tag}`;
const BLUE = `blue-${tag}`;
const TRACE = `trace-${tag}`;
const SECRET_WORD = `zebracanary${tag}`;

let gl: GatelogProcess;
const keys: Record<string, string> = {};
const ids: Record<string, string> = {};
let startedAt = '';

interface Row {
  request_id: string;
  team: string;
  user: string;
  key_name: string;
  requested_model: string;
  trace_id: string;
  started_at: string;
  preview: string;
  status: number;
}
interface Page {
  object: string;
  data: Row[];
  has_more: boolean;
  next_cursor: string | null;
}
interface ApiError {
  error: { message: string; type: string; param: string | null; code: string };
}

const admin = (path: string, token = MASTER, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

async function list(query: string, token = MASTER): Promise<Page> {
  const r = await admin(`/admin/calls?${query}`, token);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as Page;
}

async function refused(path: string, token = MASTER): Promise<ApiError['error'] & { status: number }> {
  const r = await admin(path, token);
  const body = (await r.json()) as ApiError;
  return { ...body.error, status: r.status };
}

const newKey = (name: string, team: string): Promise<string> => newVirtualKey(gl.url, MASTER, `${name}-${tag}`, team);

const token = (role: string, teams: string[] = []): Promise<string> => newMachineToken(gl.url, MASTER, role, teams);

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }, { name: 'mock-other', deployments: [{ provider: 'mock', model: 'mock-other' }] }],
    },
    timeoutMs: 60_000,
  });
  keys['red'] = await newKey('red', RED);
  keys['blue'] = await newKey('blue', BLUE);
  startedAt = new Date(Date.now() - 1000).toISOString();
  const openai = (k: string) => new OpenAI({ apiKey: keys[k], baseURL: `${gl.url}/v1`, defaultHeaders: { 'x-gatelog-trace-id': TRACE } });
  // Red: five calls by end user alice (OpenAI's `user`), one naming a secret word, one to another model.
  for (let i = 0; i < 5; i++) {
    const r = await openai('red').chat.completions.create({ model: i === 4 ? 'mock-other' : 'mock-chat', user: `alice-${tag}`, messages: [{ role: 'user', content: i === 0 ? `about ${SECRET_WORD}` : `red call ${i}` }] }).withResponse();
    ids[`red${i}`] = r.response.headers.get('x-gatelog-request-id')!;
  }
  // Blue: two by Anthropic's metadata.user_id (a plain id), one by Claude Code's composite form.
  const anthropic = new Anthropic({ apiKey: keys['blue'], baseURL: gl.url, defaultHeaders: { 'x-gatelog-trace-id': TRACE } });
  for (const [name, uid] of [['blue0', `bob-${tag}`], ['blue1', `bob-${tag}`], ['blue2', `user_${'ab'.repeat(32)}_account_acct-${tag}_session_5b1c3a52-7d0e-4c55-9a5e-0e6f1b2c3d4e`]] as const) {
    const r = await anthropic.messages.create({ model: 'mock-chat', max_tokens: 32, metadata: { user_id: uid }, messages: [{ role: 'user', content: `blue ${name}` }] }).withResponse();
    ids[name] = r.response.headers.get('x-gatelog-request-id')!;
  }
  // A header names the user over the body.
  const h = await openai('blue').chat.completions.create({ model: 'mock-chat', user: 'ignored-body-user', messages: [{ role: 'user', content: 'header wins' }] }, { headers: { 'x-gatelog-user': `carol-${tag}` } }).withResponse();
  ids['blue3'] = h.response.headers.get('x-gatelog-request-id')!;
  for (let i = 0; i < 200; i++) {
    if ((await list(`trace=${TRACE}&limit=500`)).data.length === Object.keys(ids).length) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`the calls were never all recorded:\n${gl.logs()}`);
}, 120_000);

afterAll(async () => {
  await gl?.stop();
});

describe('GET /admin/calls filters', () => {
  it('filters by team, user, model, trace and time, and names each row\'s team and user', async () => {
    const red = await list(`team=${RED}`);
    expect(red.data.map((r) => r.request_id).sort()).toEqual([0, 1, 2, 3, 4].map((i) => ids[`red${i}`]).sort());
    expect(red.data.every((r) => r.team === RED && r.user === `alice-${tag}`)).toBe(true);

    expect((await list(`user=bob-${tag}`)).data.map((r) => r.request_id).sort()).toEqual([ids['blue0'], ids['blue1']].sort());
    // Claude Code's composite metadata.user_id is recorded as its account, not the whole string.
    expect((await list(`user=acct-${tag}`)).data.map((r) => r.request_id)).toEqual([ids['blue2']]);
    expect((await list(`user=carol-${tag}`)).data.map((r) => r.request_id)).toEqual([ids['blue3']]);
    expect((await list('user=ignored-body-user')).data).toEqual([]);

    expect((await list(`team=${RED}&model=mock-other`)).data.map((r) => r.request_id)).toEqual([ids['red4']]);
    expect((await list(`trace=${TRACE}&limit=500`)).data).toHaveLength(9);
    expect((await list(`trace=${TRACE}&from=${encodeURIComponent(startedAt)}`)).data).toHaveLength(9);
    expect((await list(`trace=${TRACE}&to=${encodeURIComponent(startedAt)}`)).data).toHaveLength(0);
  });

  it('pages with next_cursor until has_more is false, every call once, newest first', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const p: Page = await list(`trace=${TRACE}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(p.data.length).toBeLessThanOrEqual(2);
      seen.push(...p.data.map((r) => r.request_id));
      if (!p.has_more) {
        expect(p.next_cursor).toBeNull();
        break;
      }
      cursor = p.next_cursor;
      expect(cursor).toMatch(/_[0-9a-f-]{36}$/);
    }
    expect(new Set(seen).size).toBe(9);
    expect(seen).toHaveLength(9);
    const all = (await list(`trace=${TRACE}&limit=500`)).data;
    expect(seen).toEqual(all.map((r) => r.request_id));
    const times = all.map((r) => Date.parse(r.started_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // The explorer's own name for the cursor works too, so a UI query string can be reused.
    const viaBefore = await list(`trace=${TRACE}&limit=2&before=${encodeURIComponent((await list(`trace=${TRACE}&limit=2`)).next_cursor!)}`);
    expect(viaBefore.data.map((r) => r.request_id)).toEqual(seen.slice(2, 4));
  });

  it('answers a misspelt or malformed parameter with a 400 naming it, never a wider list', async () => {
    for (const [query, param] of [
      [`tema=${RED}`, 'tema'],
      ['from=2026-13-45', 'from'],
      ['to=yesterday', 'to'],
      ['status=broken', 'status'],
      ['sort=random', 'sort'],
      ['dir=up', 'dir'],
      ['range=2y', 'range'],
      ['costMin=-1', 'costMin'],
      ['limit=many', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      [`team=${RED}&team=${BLUE}`, 'team'],
    ] as const) {
      const e = await refused(`/admin/calls?${query}`);
      expect(e, query).toMatchObject({ status: 400, type: 'invalid_request_error', param, code: 'invalid_query_parameter' });
      expect(e.message).toContain(param);
    }
    for (const path of ['/admin/export?format=jsonl&from=2026-13-45', `/admin/export?format=jsonl&tema=${RED}`, '/admin/export/count?status=broken', '/admin/export/count?cache=maybe', '/admin/export/count?limit=5']) {
      const e = await refused(path);
      expect(e, path).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'invalid_filter' });
    }
  });

  it('keeps a team-scoped token to its teams whatever it asks for', async () => {
    const redAnalyst = await token('analyst', [RED]);
    expect((await list(`team=${BLUE}`, redAnalyst)).data).toEqual([]);
    expect((await list(`user=bob-${tag}`, redAnalyst)).data).toEqual([]);
    const mine = await list(`trace=${TRACE}&limit=500`, redAnalyst);
    expect(mine.data.map((r) => r.request_id).sort()).toEqual([0, 1, 2, 3, 4].map((i) => ids[`red${i}`]).sort());
    expect((await admin(`/admin/export/count?team=${BLUE}`, redAnalyst).then((r) => r.json()))).toEqual({ rows: 0 });
  });

  it('searches bodies only for roles that may read them, and audits each search', async () => {
    const viewer = await token('viewer');
    const e = await refused(`/admin/calls?q=${SECRET_WORD}`, viewer);
    expect(e).toMatchObject({ status: 403, type: 'permission_error', param: 'q', code: 'role_forbidden' });
    const metadataOnly = await list(`trace=${TRACE}`, viewer);
    expect(metadataOnly.data.length).toBeGreaterThan(0);
    expect(JSON.stringify(metadataOnly)).not.toContain('red call');

    const analyst = await token('analyst');
    const hits = await list(`q=${SECRET_WORD}`, analyst);
    expect(hits.data.map((r) => r.request_id)).toEqual([ids['red0']]);
    expect(hits.data[0]!.preview).toContain(SECRET_WORD);
    const audit = (await (await admin('/admin/audit?action=calls.search&limit=50')).json()) as { data: { details: string }[] };
    const searches = audit.data.map((a) => JSON.parse(a.details) as { text?: string; via?: string });
    expect(searches).toContainEqual(expect.objectContaining({ text: SECRET_WORD, via: 'api' }));
  });
});

describe('admin reads refuse query parameters they do not take', () => {
  it('answers 400 naming a misspelt parameter on every admin list, in the API error shape', async () => {
    const someCall = ids['red0']!;
    for (const [path, param] of [
      ['/admin/audit?frm=2026-01-01', 'frm'],
      [`/admin/keys?tema=${RED}`, 'tema'],
      ['/admin/keys/key_x?verbose=1', 'verbose'],
      ['/admin/alerts/events?kindd=fired', 'kindd'],
      ['/admin/alerts/rules?team=x', 'team'],
      ['/admin/holds?active=1', 'active'],
      [`/admin/users?team=${RED}`, 'team'],
      ['/admin/tokens?role=admin', 'role'],
      [`/admin/calls/${someCall}?bodies=0`, 'bodies'],
      ['/admin/audit/chain?from=2026-12-01&to=2026-12-02', 'to'],
    ] as const) {
      const e = await refused(path);
      expect(e, path).toMatchObject({ status: 400, type: 'invalid_request_error', param, code: 'invalid_query_parameter' });
      expect(e.message).toContain(param);
    }
  });

  it('checks the credential first, and still answers the parameters each list takes', async () => {
    const r = await fetch(`${gl.url}/admin/audit?frm=2026-01-01`);
    expect(r.status).toBe(401);
    expect((await list(`team=${RED}&limit=1`)).data).toHaveLength(1);
    const audit = await admin('/admin/audit?action=key.create&limit=5&from=2026-01-01');
    expect(audit.status).toBe(200);
    const keysOfRed = (await (await admin(`/admin/keys?team=${RED}&include_revoked=false`)).json()) as { data: { team: string }[] };
    expect(keysOfRed.data.length).toBe(1);
    expect(keysOfRed.data.every((k) => k.team === RED)).toBe(true);
    expect((await refused('/admin/keys?include_revoked=maybe')).status).toBe(400);
    expect((await admin('/admin/alerts/events?kind=fired&limit=10')).status).toBe(200);
  });
});
