// List previews of long conversations (stored split: skeleton + blocks, core/src/store/blocks.ts)
// through a real `gatelog start` with the real @anthropic-ai/sdk: a Claude Code-shaped session
// whose bodies pass the split size; the Requests explorer's and the Sessions list's server
// loads show the session's real last user message, and the session page each call's own.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../core/src/store/client.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

let up: FakeAnthropic;
let gl: GatelogProcess;
const H = { 'x-forwarded-proto': 'http' };
const SESSION = 'split-previews-session';

beforeAll(async () => {
  up = await startFakeAnthropic();
  gl = await startGatelog({
    config: {
      providers: { ant: { kind: 'anthropic', base_url: up.url, api_key: 'sk-ant-upstream' } },
      models: [{ name: 'claude-code-agent', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] }],
      ingest: { batch_rows: 100, batch_ms: 100 },
    },
  });
}, 60_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

/** A load's strings (SvelteKit's data endpoint). */
async function loadStrings(path: string): Promise<string[]> {
  const r = await fetch(`${gl.url}${path}`, { headers: H });
  expect(r.status).toBe(200);
  const data = (await r.json()) as { nodes?: ({ data?: unknown[] } | null)[] };
  return (data.nodes ?? []).flatMap((n) => n?.data ?? []).filter((x): x is string => typeof x === 'string');
}

async function waitStored(id: string): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < 120_000; await new Promise((r) => setTimeout(r, 200))) {
    if ((await fetch(`${gl.url}/admin/calls/${id}`)).status === 200) return;
  }
  throw new Error(`call ${id} not stored`);
}

const filler = (turn: number): string => `line ${turn} of the build log; nothing failed here. `.repeat(400);
const asked = (turn: number): string => `Turn ${turn}: now rename parseHeader to readHeader everywhere, please`;

describe('previews of split conversations', () => {
  it('the explorer, the Sessions list and the session page show the real last user message', async () => {
    const an = new Anthropic({ baseURL: gl.url, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-gatelog-session-id': SESSION } });
    const system: Anthropic.TextBlockParam[] = [{ type: 'text', text: 'You are Claude Code. '.repeat(1500), cache_control: { type: 'ephemeral' } }];
    const history: Anthropic.MessageParam[] = [];
    const ids: string[] = [];
    for (let turn = 0; turn < 12; turn++) {
      history.push({ role: 'user', content: [{ type: 'text', text: asked(turn) }] });
      const { response } = await an.messages.create({ model: 'claude-code-agent', max_tokens: 256, system, messages: history }).withResponse();
      ids.push(response.headers.get('x-gatelog-request-id') ?? '');
      history.push({ role: 'assistant', content: [{ type: 'text', text: `ok ${turn} ${filler(turn)}` }] });
    }
    for (const id of ids) await waitStored(id);

    const explorer = await loadStrings('/requests/__data.json');
    for (let turn = 0; turn < 12; turn++) expect(explorer, `turn ${turn}`).toContain(asked(turn));
    expect(explorer.some((s) => /^ok \d+ /.test(s))).toBe(false);

    const sessions = await loadStrings('/sessions/__data.json');
    expect(sessions).toContain(SESSION);
    expect(sessions).toContain(asked(11));

    const page = await loadStrings(`/sessions/${SESSION}/__data.json`);
    for (let turn = 0; turn < 12; turn++) expect(page, `turn ${turn}`).toContain(asked(turn));

    // The bodies were stored split: their stored text alone holds no preview.
    await gl.stop();
    const store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, gl.dataDir);
    try {
      const rs = await store.client.query({
        query: `SELECT countIf(length(request_parts) > 0) AS split FROM gatelog.llm_calls FINAL WHERE request_id IN {ids:Array(UUID)}`,
        query_params: { ids },
        format: 'JSONEachRow',
      });
      const [r] = await rs.json<{ split: string }>();
      expect(Number(r!.split)).toBeGreaterThanOrEqual(10);
    } finally {
      await store.close();
    }
  }, 300_000);
});
