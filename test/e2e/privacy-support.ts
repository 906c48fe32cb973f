// Shared by the privacy tests: the canary strings, where to look for them, and reading calls back.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../core/src/store/client.ts';
import type { LlmCallEvent } from '../../core/src/event.ts';
import { newRequestId } from '../../core/src/ids.ts';

/** Test-only shapes of personal data and secrets (none is a real account or credential). */
export const CANARIES = [
  'canary.person+gl@example-corp.test',
  '+1 415-555-0199',
  '4111 1111 1111 1111',
  'DE89 3704 0044 0532 0130 00',
  '123-45-6789',
  '203.0.113.77',
  '2001:db8:cafe::7334:1',
  'sk-proj-CanaryOpenAiKey0123456789abcdefXYZ',
  'sk-ant-api03-CanaryAnthropicKey0123456789-abcdef',
  'AKIACANARYKEY0123456',
  'ghp_Canary0123456789abcdefghijABCDEFGHIJ01',
  'xoxb-1234567890-CanarySlackToken',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.CanaryJwtSignature0123456789abcdef',
  'ORD-7654321',
] as const;

/** A PEM private key: searched by a line of its body (in JSON its line breaks are escapes). */
export const PEM_LINE = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCCanaryPemBody';
const PEM = `-----BEGIN PRIVATE KEY-----\n${PEM_LINE}\nAbCdEf0123456789+/==\n-----END PRIVATE KEY-----`;

export function canaryText(): string {
  return `Contact ${CANARIES.slice(0, 7).join(', ')}. Keys: ${CANARIES.slice(7, 13).join(' ')}. Order ${CANARIES[13]}.\n${PEM}`;
}

/** Every form a canary could be written in: as sent, and for the card, digits only. */
const NEEDLES: Buffer[] = [...CANARIES, PEM_LINE, '4111111111111111', 'canary.person'].map((s) => Buffer.from(s));

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** `needle in where` for every canary found: in a text, or in any file under a directory (as bytes). */
export function findCanaries(o: { dir?: string; text?: string }): string[] {
  const found: string[] = [];
  if (o.text !== undefined) {
    const buf = Buffer.from(o.text);
    for (const n of NEEDLES) if (buf.includes(n)) found.push(n.toString());
  }
  if (o.dir !== undefined) {
    for (const f of walk(o.dir, [])) {
      const buf = readFileSync(f);
      for (const n of NEEDLES) if (buf.includes(n)) found.push(`${n.toString()} in ${f}`);
    }
  }
  return found;
}

export interface StoredCall {
  request_id: string;
  request_body: string;
  response_body: string;
  user: string;
  redactions: Record<string, number>;
}

/** Poll /admin/calls until `n` calls are readable, then read each (bounded). */
export async function waitForCalls(base: string, n: number, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<StoredCall[]> {
  const t0 = Date.now();
  for (;;) {
    const r = await fetch(`${base}/admin/calls?limit=500`, { headers });
    const list = (await r.json()) as { data?: { request_id: string }[] };
    const ids = (list.data ?? []).map((c) => c.request_id);
    if (ids.length >= n) {
      return Promise.all(ids.map(async (id) => (await (await fetch(`${base}/admin/calls/${id}`, { headers })).json()) as StoredCall));
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`only ${ids.length} of ${n} calls in ClickHouse after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * Every row of every table in gatelog's database, as ClickHouse reads it back (decompressed),
 * as one text. The gatelog process must be stopped (embedded ClickHouse is one process's).
 */
export async function storeText(dataDir: string, database = 'gatelog'): Promise<string> {
  const store = await openStore({ clickhouse: 'embedded', database }, dataDir);
  try {
    const rs = await store.client.query({ query: `SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View'`, query_params: { db: database }, format: 'JSONEachRow' });
    const tables = (await rs.json<{ name: string }>()).map((t) => t.name);
    let text = '';
    for (const t of tables) {
      const r = await store.client.query({ query: `SELECT * FROM ${database}.\`${t}\``, format: 'TabSeparatedRaw' });
      text += await r.text();
    }
    return text;
  } finally {
    await store.close();
  }
}

/** A complete call event for seeding (bodies carry `secret` so they can be searched for). */
export function seedEvent(over: Partial<LlmCallEvent> & { started_at: string }, secret: string): LlmCallEvent {
  return {
    schema_version: 1, gatelog_version: 'test', request_id: newRequestId(),
    trace_id: '', session_id: '', user: '', tags: {}, key_id: '', key_name: '', team: '',
    endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: 'm', provider: 'p', deployment_model: 'm', upstream_model: 'm',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: `err ${secret}`, finish_reason: 'stop',
    input_tokens: 10, output_tokens: 5, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
    tokens_estimated: false, cost_usd: 0.25, cache_hit: false, ttft_ms: null, latency_ms: 100, overhead_ms: 0.4,
    attempts: [], request_body: JSON.stringify({ messages: [{ role: 'user', content: secret }] }), response_body: JSON.stringify({ answer: secret }),
    request_bytes: 2, response_bytes: 2, truncated: false,
    ...over,
  };
}

/** Files under a data dir, ClickHouse's own directory excluded (its parts are compressed: query it instead). */
export function filesHaving(dataDir: string, needle: string): string[] {
  return walk(dataDir, []).filter((f) => !f.includes('/clickhouse/') && readFileSync(f).includes(Buffer.from(needle)));
}
