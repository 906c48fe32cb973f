// Canary: personal data and secrets sent in prompts (OpenAI SDK and Anthropic SDK, streamed and
// not) and returned in responses (the fake upstreams echo them) must be nowhere gatelog writes:
// every file under the data dir searched as bytes (event log, ingest offsets, dead letters,
// ClickHouse's directory, the body blocks of a long conversation included), the service log,
// and CSV/JSONL exports.
//
// ClickHouse compresses column data (ZSTD on the bodies, LZ4 elsewhere), so a byte search of
// its part files could miss a value that is there. The test therefore also reads every row of
// every table of gatelog's database back through ClickHouse (decompressed) and searches that
// text; the byte search still covers everything ClickHouse keeps uncompressed (logs, metadata,
// temporary files) and every file that is not ClickHouse's.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { openStore } from '../../core/src/store/client.ts';
import { CANARIES, canaryText, findCanaries, waitForCalls, storeText } from './privacy-support.ts';

/** Body blocks stored (storeText reads them too: every table of the database). */
async function blockCount(dataDir: string): Promise<number> {
  const store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dataDir);
  try {
    const rs = await store.client.query({ query: 'SELECT count() AS n FROM gatelog.llm_blocks', format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
  } finally {
    await store.close();
  }
}

let openaiUp: FakeOpenAi;
let anthropicUp: FakeAnthropic;
let gl: GatelogProcess;

beforeAll(async () => {
  openaiUp = await startFakeOpenAi();
  anthropicUp = await startFakeAnthropic();
  gl = await startGatelog({
    config: {
      providers: {
        up: { kind: 'openai', base_url: openaiUp.baseUrl, api_key: 'sk-upstream-not-a-canary' },
        claude: { kind: 'anthropic', base_url: anthropicUp.url, api_key: 'sk-ant-upstream-not-a-canary' },
      },
      models: [
        { name: 'chat', deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] },
        { name: 'claude-x', deployments: [{ provider: 'claude', model: 'claude-sonnet-4-5' }] },
      ],
      ingest: { batch_rows: 100, batch_ms: 100 },
      redaction: { custom: [{ name: 'ORDER', pattern: 'ORD-[0-9]{7}' }] },
    },
    // debug: the most a service log ever says about a call.
    env: { GATELOG_LOG_LEVEL: 'debug' },
  });
}, 60_000);

afterAll(async () => {
  await gl?.stop();
  await openaiUp?.close();
  await anthropicUp?.close();
});

describe('privacy canary', () => {
  it('no canary reaches the event log, ClickHouse, dead letters, exports or the service log', async () => {
    const prompt = canaryText();
    // The upstreams answer with every canary too (and the OpenAI fake also echoes the prompt).
    openaiUp.behave({ reply: `Sure. ${prompt}` });
    anthropicUp.behave({ reply: `Noted: ${prompt}` });
    const oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const an = new Anthropic({ baseURL: gl.url, apiKey: 'unused', maxRetries: 0 });

    const plain = await oa.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: prompt }] });
    // What the client gets is the provider's answer, untouched (mode `log`).
    expect(plain.choices[0]?.message.content).toContain(CANARIES[0]);
    const stream = await oa.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'system', content: prompt }, { role: 'user', content: prompt }] });
    let streamed = '';
    for await (const c of stream) streamed += c.choices[0]?.delta.content ?? '';
    expect(streamed).toContain(CANARIES[0]);
    const msg = await an.messages.create({ model: 'claude-x', max_tokens: 64, messages: [{ role: 'user', content: prompt }] });
    expect(JSON.stringify(msg.content)).toContain(CANARIES[0]);
    const astream = an.messages.stream({ model: 'claude-x', max_tokens: 64, system: prompt, messages: [{ role: 'user', content: prompt }] });
    await astream.finalMessage();
    // A long conversation (over 32 KiB): stored as a skeleton plus shared blocks (llm_blocks).
    const filler = 'the agent reads the build log and tries again '.repeat(40);
    const turns = Array.from({ length: 30 }, (_, i) => ({ role: i % 2 ? 'assistant' as const : 'user' as const, content: `${filler} ${prompt}` }));
    await an.messages.create({ model: 'claude-x', max_tokens: 64, system: `${filler} ${prompt}`, messages: turns });
    // The provider got the original text (mode `log` redacts only what is stored).
    expect(openaiUp.requests.at(-1)?.raw).toContain(CANARIES[0]);

    const calls = await waitForCalls(gl.url, 5);
    for (const c of calls) {
      expect(c.redactions['EMAIL'] ?? 0).toBeGreaterThan(0);
      expect(c.request_body).toContain('[EMAIL_1]');
      expect(c.response_body).toContain('[EMAIL_1]');
    }

    const exports = await Promise.all(['csv', 'jsonl'].map(async (f) => {
      const r = await fetch(`${gl.url}/export?format=${f}`, { headers: { 'x-forwarded-proto': 'http' } });
      expect(r.status).toBe(200);
      return r.text();
    }));
    expect(exports[1]).toContain('[EMAIL_1]');
    const serviceLog = gl.logs();
    await gl.stop();

    expect(await blockCount(gl.dataDir)).toBeGreaterThan(0);
    const found = {
      files: findCanaries({ dir: gl.dataDir }),
      clickhouse: findCanaries({ text: await storeText(gl.dataDir) }),
      exports: findCanaries({ text: exports.join('\n') }),
      serviceLog: findCanaries({ text: serviceLog }),
    };
    expect(found).toEqual({ files: [], clickhouse: [], exports: [], serviceLog: [] });
  }, 120_000);
});
