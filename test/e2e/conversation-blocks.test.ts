// Long agent conversations stored whole, once (core/src/store/blocks.ts): a 50-turn session in
// the shape Claude Code sends (big system prompt and tools repeated every turn, messages
// growing to ~1 MB, the cache_control marker moving to the last message) through a real
// `gatelog start` with the real @anthropic-ai/sdk, and an OpenAI-shaped session with the real
// openai SDK. Every call's body reads back byte for byte (sha256 of what the client sent) from
// GET /admin/calls/:id, the request page's server load and a JSONL export; untruncated; and the
// whole session takes at most twice its last call's size in ClickHouse (skeletons + blocks).
import { createHash } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../core/src/store/client.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

let anthropicUp: FakeAnthropic;
let openaiUp: FakeOpenAi;
let gl: GatelogProcess;
const H = { 'x-forwarded-proto': 'http' };

const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Deterministic prose (not one repeated phrase: storage is measured uncompressed anyway). */
function prose(seed: number, bytes: number): string {
  const words = ['function', 'const', 'return', 'résumé', 'naïve', 'déjà', 'vu', '"quoted"', 'path\\to\\file', 'ok', '中文', '😀', 'tab\there', 'line\nbreak'];
  let s = '';
  let x = seed * 2654435761;
  while (s.length < bytes) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += `${words[x % words.length]!} `;
  }
  return s;
}

/** A fetch that remembers each request body exactly as the SDK sent it. */
function recordingFetch(sent: string[]): typeof fetch {
  return async (input, init) => {
    if (typeof init?.body === 'string') sent.push(init.body);
    return fetch(input, init);
  };
}

interface StoredCall { request_body: string; request_bytes: number; truncated: boolean }

async function stored(id: string, timeoutMs = 120_000): Promise<StoredCall> {
  const t0 = Date.now();
  for (;;) {
    const r = await fetch(`${gl.url}/admin/calls/${id}`);
    if (r.status === 200) return (await r.json()) as StoredCall;
    if (Date.now() - t0 > timeoutMs) throw new Error(`call ${id} not stored after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Stored bytes of these calls, read from ClickHouse: skeletons (call's and attempts') + distinct blocks. */
async function storedBytes(ids: readonly string[]): Promise<{ skeletons: number; blocks: number; truncated: number }> {
  const store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, gl.dataDir);
  try {
    const calls = `SELECT * FROM gatelog.llm_calls FINAL WHERE request_id IN {ids:Array(UUID)}`;
    const hashes = `arrayConcat(arrayMap(x -> x.2, request_parts), arrayFlatten(arrayMap(a -> arrayMap(x -> x.2, a.request_parts), attempt_io)))`;
    const rs = await store.client.query({
      query: `SELECT (SELECT sum(length(request_body) + arraySum(a -> length(a.request_body), attempt_io)) FROM (${calls})) AS skeletons,
                     (SELECT countIf(truncated) FROM (${calls})) AS truncated,
                     (SELECT sum(b) FROM (SELECT hash, any(bytes) AS b FROM gatelog.llm_blocks WHERE hash IN (SELECT arrayJoin(${hashes}) FROM (${calls})) GROUP BY hash)) AS blocks`,
      query_params: { ids },
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<{ skeletons: string; blocks: string; truncated: string }>();
    return { skeletons: Number(r!.skeletons), blocks: Number(r!.blocks), truncated: Number(r!.truncated) };
  } finally {
    await store.close();
  }
}

/** The request page's server load, over HTTP (SvelteKit's data endpoint): its strings. */
async function pageStrings(id: string): Promise<string[]> {
  const r = await fetch(`${gl.url}/requests/${id}/__data.json`, { headers: H });
  expect(r.status).toBe(200);
  const data = (await r.json()) as { nodes?: ({ data?: unknown[] } | null)[] };
  return (data.nodes ?? []).flatMap((n) => n?.data ?? []).filter((x): x is string => typeof x === 'string');
}

async function exportedBodies(): Promise<Map<string, string>> {
  const r = await fetch(`${gl.url}/export?format=jsonl`, { headers: H });
  expect(r.status).toBe(200);
  const lines = (await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { request_id: string; request_body: string });
  return new Map(lines.map((l) => [l.request_id, l.request_body]));
}

beforeAll(async () => {
  anthropicUp = await startFakeAnthropic();
  openaiUp = await startFakeOpenAi();
  gl = await startGatelog({
    config: {
      providers: {
        ant: { kind: 'anthropic', base_url: anthropicUp.url, api_key: 'sk-ant-upstream' },
        oai: { kind: 'openai', base_url: openaiUp.baseUrl, api_key: 'sk-upstream' },
      },
      models: [
        { name: 'claude-code-agent', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] },
        { name: 'gpt-4o', deployments: [{ provider: 'oai', model: 'gpt-4o' }] },
      ],
      ingest: { batch_rows: 100, batch_ms: 100 },
      // Stored exactly as sent, so the stored bytes can be compared with the client's.
      redaction: { mode: 'off' },
    },
  });
}, 60_000);

afterAll(async () => {
  await gl?.stop();
  await anthropicUp?.close();
  await openaiUp?.close();
});

type Msg = Anthropic.MessageParam;

describe('long conversations are stored whole, once', () => {
  const ids: string[] = [];
  const sent: string[] = [];
  const oaIds: string[] = [];
  const oaSent: string[] = [];

  it('a 50-turn Claude Code-shaped session reads back byte for byte', async () => {
    const an = new Anthropic({ baseURL: gl.url, apiKey: 'unused', maxRetries: 0, fetch: recordingFetch(sent) });
    const system: Anthropic.TextBlockParam[] = [
      { type: 'text', text: 'You are Claude Code, an interactive CLI coding agent.' },
      { type: 'text', text: prose(1, 12_000), cache_control: { type: 'ephemeral' } },
    ];
    const tools: Anthropic.Tool[] = Array.from({ length: 16 }, (_, i) => ({
      name: `tool_${i}`,
      description: prose(100 + i, 900),
      input_schema: { type: 'object', properties: { command: { type: 'string', description: prose(200 + i, 200) } }, required: ['command'] },
    }));
    const history: Msg[] = [{ role: 'user', content: [{ type: 'text', text: `Fix the failing build. ${prose(3, 2_000)}` }] }];
    for (let turn = 0; turn < 50; turn++) {
      // Like Claude Code: the cache marker on the last message's last block only.
      const messages = history.map((m, i) => (i === history.length - 1 && Array.isArray(m.content)
        ? { ...m, content: m.content.map((b, j, all) => (j === all.length - 1 ? { ...b, cache_control: { type: 'ephemeral' as const } } : b)) }
        : m)) as Msg[];
      const { response } = await an.messages.create({ model: 'claude-code-agent', max_tokens: 1024, system, tools, messages }).withResponse();
      ids.push(response.headers.get('x-gatelog-request-id') ?? '');
      history.push({ role: 'assistant', content: [{ type: 'text', text: `Running step ${turn}.` }, { type: 'tool_use', id: `toolu_${turn}`, name: `tool_${turn % 16}`, input: { command: `make step-${turn}` } }] });
      history.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${turn}`, content: prose(1000 + turn, 19_000) }] });
    }
    expect(sent).toHaveLength(50);
    const last = Buffer.byteLength(sent.at(-1)!);
    expect(last).toBeGreaterThan(900_000);
    for (let i = 0; i < ids.length; i++) {
      const c = await stored(ids[i]!);
      expect(c.truncated).toBe(false);
      expect(c.request_bytes).toBe(Buffer.byteLength(sent[i]!));
      expect(sha(c.request_body), `call ${i}`).toBe(sha(sent[i]!));
    }
    // The request page's load has the last call's whole body.
    const strings = await pageStrings(ids.at(-1)!);
    expect(strings.some((s) => s.length > 100_000 && sha(s) === sha(sent.at(-1)!))).toBe(true);
  }, 600_000);

  it('an OpenAI-shaped session reads back byte for byte', async () => {
    const oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: 'unused', maxRetries: 0, fetch: recordingFetch(oaSent) });
    const tools: OpenAI.ChatCompletionTool[] = Array.from({ length: 10 }, (_, i) => ({ type: 'function', function: { name: `fn_${i}`, description: prose(300 + i, 1_200), parameters: { type: 'object', properties: { q: { type: 'string' } } } } }));
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: prose(4, 10_000) }, { role: 'user', content: 'Refactor the parser.' }];
    for (let turn = 0; turn < 25; turn++) {
      const { response } = await oa.chat.completions.create({ model: 'gpt-4o', messages, tools }).withResponse();
      oaIds.push(response.headers.get('x-gatelog-request-id') ?? '');
      messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `call_${turn}`, type: 'function', function: { name: `fn_${turn % 10}`, arguments: JSON.stringify({ q: `step ${turn}` }) } }] });
      messages.push({ role: 'tool', tool_call_id: `call_${turn}`, content: prose(2000 + turn, 16_000) });
    }
    for (let i = 0; i < oaIds.length; i++) {
      const c = await stored(oaIds[i]!);
      expect(c.truncated).toBe(false);
      expect(sha(c.request_body), `call ${i}`).toBe(sha(oaSent[i]!));
    }
  }, 600_000);

  it('exports carry whole bodies, and each session is stored in at most twice its last call', async () => {
    const exported = await exportedBodies();
    for (const [i, id] of ids.entries()) expect(sha(exported.get(id) ?? ''), `call ${i}`).toBe(sha(sent[i]!));
    for (const [i, id] of oaIds.entries()) expect(sha(exported.get(id) ?? ''), `call ${i}`).toBe(sha(oaSent[i]!));
    await gl.stop();
    for (const [name, callIds, bodies] of [['anthropic', ids, sent], ['openai', oaIds, oaSent]] as const) {
      const s = await storedBytes(callIds);
      const last = Buffer.byteLength(bodies.at(-1)!);
      const raw = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
      console.log(`${name}: ${callIds.length} calls, raw ${raw} B, last call ${last} B, stored ${s.skeletons + s.blocks} B (skeletons ${s.skeletons}, blocks ${s.blocks}), ${((s.skeletons + s.blocks) / last).toFixed(2)}x the last call`);
      expect(s.truncated).toBe(0);
      expect(s.blocks).toBeGreaterThan(0);
      // At most twice the last call (measured: ~1.06x, upstream copies included); skeletons stay
      // small (a head and a tail per top-level value, not a wrapper per message).
      expect(s.skeletons + s.blocks).toBeLessThanOrEqual(2 * last);
      expect(s.skeletons).toBeLessThan(0.2 * last);
    }
  }, 300_000);
});
