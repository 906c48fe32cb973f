// The built UI handler on a store this test seeds: /export streams ClickHouse-written bytes
// (row count, neutralized formula cells, ISO times, exact bodies, audit) over 50k+ rows in
// bounded time, hostile filter values stay parameters, and /keys lists seeded keys with
// spend and last use and never renders a hash. Needs `pnpm --filter @gatelog/ui run build`.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, newRequestId, openStore, StorageConfig, type Store } from '@gatelog/core';
import { insertKeyVersion, listAudit, type KeyRecord } from '../../core/src/store/keys.ts';
import { ExportRowCounter, neutralizedSql } from '../../core/src/store/export-queries.ts';
import { provideUiContext } from '@gatelog/core/ui-context';

const HANDLER = join(import.meta.dirname, '..', '..', 'ui', 'build', 'handler.js');
const N = 50_000;
const T0 = Date.UTC(2026, 0, 5);
const tag = randomUUID().slice(0, 8);
type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

let dir: string;
let store: Store;
let server: Server;
let base: string;

const hostile = `x'); DROP TABLE gatelog.llm_calls; --\\ {f_model:String} "\n end`;
const special = [
  { user: `=HYPERLINK("http://evil")`, body: `+cmd|' /C calc'!A0`, key: 'k1' },
  { user: '-2+3', body: '@SUM(A1)', key: 'k1' },
  { user: '\tTAB', body: '\rCR', key: 'k2' },
  { user: hostile, body: 'plain "quoted", comma\nnewline', key: 'k2' },
];

function row(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: newRequestId(), started_at: new Date(T0 + i * 10).toISOString(),
    user: `u-${i % 7}`, key_id: '', key_name: '', team: 't', requested_model: 'm', provider: 'p', status: 200, outcome: 'success',
    input_tokens: 3, output_tokens: 2, cost_usd: 0.001, latency_ms: 5, attempts: [], tags: { env: tag },
    request_body: JSON.stringify({ messages: [{ role: 'user', content: `prompt ${i} /slash "q"` }] }), response_body: `{"i":${i}}`,
    ...over,
  });
}

function key(id: string, over: Partial<KeyRecord>): KeyRecord {
  const now = new Date().toISOString();
  return {
    id, version: 1, key_hash: createHash('sha256').update(`secret-${id}`).digest('hex'), key_prefix: `gl-${id}`, previous_key_hash: '', previous_key_prefix: '', previous_valid_until: null, rotated_at: null, counter_salt: '', name: `name-${id}`,
    team: 'team-x', owner: '', models: [], budget_usd: null, budget_period: 'none', rpm: null, tpm: null, max_parallel: null,
    user_rpm: null, user_tpm: null, user_budget_usd: null, user_budget_period: 'none', require_user: false,
    expires_at: null, metadata: {}, revoked: false, created_at: now, updated_at: now, updated_by: 'test', ...over,
  };
}

async function get(path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(base + path, { redirect: 'manual', headers: { 'x-forwarded-proto': 'http' } });
  return { status: r.status, text: await r.text() };
}

/** RFC 4180 parser, independent of the server's row counter. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let cell = '';
  let cur: string[] = [];
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      cur.push(cell);
      cell = '';
    } else if (c === '\n') {
      cur.push(cell.replace(/\r$/, ''));
      rows.push(cur);
      cur = [];
      cell = '';
    } else cell += c;
  }
  return rows;
}

beforeAll(async () => {
  if (!existsSync(HANDLER)) throw new Error(`UI build missing at ${HANDLER}`);
  dir = mkdtempSync(join(tmpdir(), 'gatelog-ui-export-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(row(i));
  // A minute ago, but never before this UTC month began: the keys page sums the current month.
  const now = new Date();
  const recent = Math.max(now.getTime() - 60_000, Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  special.forEach((s, j) => lines.push(row(N + j, { user: s.user, request_body: s.body, key_id: s.key, key_name: `name-${s.key}`, cost_usd: 0.25, started_at: new Date(recent + j).toISOString(), tags: { env: `sp-${tag}` } })));
  await store.insertRaw('llm_calls', Buffer.from(lines.join('\n')));
  await insertKeyVersion(store, key('k1', { budget_usd: 10, budget_period: 'monthly', rpm: 60, tpm: 1000, user_rpm: 5, user_budget_usd: 0.5, user_budget_period: 'daily', require_user: true }));
  await insertKeyVersion(store, key('k2', { revoked: true }));
  await insertKeyVersion(store, key('k3', { name: '<script>alert(1)</script>' }));
  process.env['PROTOCOL_HEADER'] = 'x-forwarded-proto';
  provideUiContext({ store, masterKey: undefined });
  const { handler } = (await import(pathToFileURL(HANDLER).href)) as { handler: NodeHandler };
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('export row counter and SQL neutralization', () => {
  it('counts CSV rows across chunk splits, ignoring newlines inside quoted cells', () => {
    const csv = Buffer.from('"a","b\r\nc"\r\n1,"x""\ny"\r\n');
    for (let cut = 0; cut <= csv.length; cut++) {
      const c = new ExportRowCounter('csv');
      c.feed(csv.subarray(0, cut));
      c.feed(csv.subarray(cut));
      expect(c.rows).toBe(2);
    }
    const j = new ExportRowCounter('jsonl');
    j.feed(Buffer.from('{"a":"x\\ny"}\n{"a":1}\n'));
    expect(j.rows).toBe(2);
  });

  it('neutralizes formula starts in SQL', async () => {
    const rs = await store.client.query({
      query: `SELECT ${neutralizedSql('s')} AS v FROM (SELECT arrayJoin({xs:Array(String)}) AS s)`,
      query_params: { xs: ['=1', '+1', '-1', '@a', '\tt', '\rr', 'ok', '', "'q"] },
      format: 'JSONEachRow',
    });
    expect((await rs.json<{ v: string }>()).map((r) => r.v)).toEqual(["'=1", "'+1", "'-1", "'@a", "'\tt", "'\rr", 'ok', '', "'q"]);
  });
});

describe('/export', () => {
  it(`streams ${N.toLocaleString('en-US')}+ rows as CSV with the right count, and audits it`, async () => {
    const t0 = performance.now();
    const r = await get(`/export?format=csv&tags=env%3D${tag}`);
    const ms = performance.now() - t0;
    expect(r.status).toBe(200);
    const [header, ...rows] = parseCsv(r.text);
    expect(rows.length).toBe(N);
    expect(header).toContain('request_body');
    const col = (n: string): number => header!.indexOf(n);
    expect(rows[0]![col('started_at')]).toBe(new Date(T0).toISOString());
    expect(rows[N - 1]![col('request_body')]).toBe(JSON.stringify({ messages: [{ role: 'user', content: `prompt ${N - 1} /slash "q"` }] }));
    expect(ms).toBeLessThan(30_000);
    const audit = (await listAudit(store, { action: 'export.run' })).find((a) => a.details.includes(tag) && !a.details.includes(`sp-${tag}`) && a.target === 'csv');
    expect(JSON.parse(audit!.details)).toMatchObject({ rows: N, completed: true });
  }, 60_000);

  it('a download abandoned midway stops the export, is audited as incomplete, and the next one works', async () => {
    const ac = new AbortController();
    // All 50k rows (~15 MB): far more than loopback socket buffers hold.
    const r = await fetch(`${base}/export?format=jsonl&tags=env%3D${tag}`, { signal: ac.signal, headers: { 'x-forwarded-proto': 'http' } });
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    ac.abort();
    await reader.read().catch(() => undefined);
    // The audit row lands once the server has stopped the query.
    let audited: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !audited; i++) {
      const a = (await listAudit(store, { action: 'export.run' })).find((x) => (JSON.parse(x.details) as { completed?: boolean }).completed === false);
      if (a) audited = JSON.parse(a.details) as Record<string, unknown>;
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(audited).toMatchObject({ completed: false, failure: 'client went away' });
    const again = await get(`/export?format=jsonl&tags=env%3D${tag}&user=u-3`);
    expect(again.status).toBe(200);
    expect(again.text.trim().split('\n')).toHaveLength(Math.ceil((N - 3) / 7));
  }, 60_000);

  it('neutralizes formula cells in CSV and keeps JSONL exact', async () => {
    const csv = parseCsv((await get(`/export?format=csv&tags=env%3Dsp-${tag}`)).text);
    const [header, ...rows] = csv;
    expect(rows.length).toBe(special.length);
    const col = (n: string): number => header!.indexOf(n);
    expect(rows.map((r) => r[col('user')])).toEqual(special.map((s) => (/^[=+\-@\t\r]/.test(s.user) ? `'${s.user}` : s.user)));
    expect(rows.map((r) => r[col('request_body')])).toEqual(special.map((s) => (/^[=+\-@\t\r]/.test(s.body) ? `'${s.body}` : s.body)));
    const jsonl = (await get(`/export?format=jsonl&tags=env%3Dsp-${tag}`)).text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonl.map((r) => [r['user'], r['request_body']])).toEqual(special.map((s) => [s.user, s.body]));
    expect(jsonl[0]!['tags']).toEqual({ env: `sp-${tag}` });
    expect(typeof jsonl[0]!['input_tokens']).toBe('number');
  });

  it('binds hostile filter values as parameters (no match, no error, table intact)', async () => {
    for (const q of [`user=${encodeURIComponent(hostile)}`, `model=${encodeURIComponent("m' OR '1'='1")}`, `q=${encodeURIComponent("%' OR 1=1 --")}`]) {
      const r = await get(`/export?format=jsonl&${q}`);
      expect(r.status).toBe(200);
      expect(r.text.trim().split('\n').filter(Boolean).length).toBeLessThanOrEqual(1);
    }
    const exact = await get(`/export?format=jsonl&user=${encodeURIComponent(hostile)}`);
    expect((JSON.parse(exact.text) as { user: string }).user).toBe(hostile);
    const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.llm_calls`, format: 'JSONEachRow' });
    expect(Number((await rs.json<{ n: string }>())[0]!.n)).toBe(N + special.length);
  });
});

describe('/keys', () => {
  it('lists keys with current-period spend and last use, never a hash', async () => {
    const r = await get('/keys');
    expect(r.status).toBe(200);
    for (const id of ['k1', 'k2', 'k3']) {
      expect(r.text).toContain(`gl-${id}`);
      expect(r.text).not.toContain(createHash('sha256').update(`secret-${id}`).digest('hex'));
    }
    const k1 = /<tr data-key-id="k1">([\s\S]*?)<\/tr>/.exec(r.text)?.[1] ?? '';
    expect(k1).toMatch(/\$0\.5000\s*\/\s*\$10\.0000 \(5%\)/);
    expect(k1).toContain('monthly');
    // The limits for each end user of the key.
    const perUser = /<td data-testid="per-user">([^<]*)<\/td>/.exec(k1)?.[1] ?? '';
    expect(perUser).toMatch(/^5 rpm, \$0\.50+ daily, user required$/);
    // Last used: the newest seeded call with k1, not "never".
    expect(k1).toMatch(/<td class="mono">\d{4}-\d\d-\d\dT[\d:.]+Z<\/td>\s*$/);
    const k2 = /<tr data-key-id="k2">([\s\S]*?)<\/tr>/.exec(r.text)?.[1] ?? '';
    expect(k2).toContain('revoked');
    const k3 = /<tr data-key-id="k3">([\s\S]*?)<\/tr>/.exec(r.text)?.[1] ?? '';
    expect(k3).toContain('never');
    expect(r.text).not.toContain('<script>alert(1)');
  });
});
