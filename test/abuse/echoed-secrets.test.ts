// An upstream that echoes credentials in its error answers: the configured provider key
// ("Incorrect API key provided: <key>"), another provider's key, and common key shapes. None
// may reach the client (OpenAI and Anthropic surfaces, passed through or translated), the
// recorded call, the event log or gatelog's output; the status and error shape stay the
// upstream's.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicError, openAiError, sendJson, startAbuseGatelog, startUpstream, stopAll, waitRecorded, type AbuseGatelog, type Upstream } from './harness.ts';

const OAI_KEY = 'sk-proj-CONFIGUREDoaiKEY0123456789abcdefABCDEF';
const ANT_KEY = 'sk-ant-api03-CONFIGUREDantKEY0123456789abcdef-XYZ';
const ODD_KEY = 'opaque-vendor-credential-7f3a9c2e1b';
const SHAPES = ['AKIAIOSFODNN7EXAMPLE', 'ghp_CANARYabcdefghijklmnopqrstuvwxyz0123', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDQU5BUlkifQ.c2lnbmF0dXJlQ0FOQVJZ'];
const ALL = [OAI_KEY, ANT_KEY, ODD_KEY, ...SHAPES];

/** What an upstream that echoes everything it knows would say. */
const leak = `Incorrect API key provided: ${OAI_KEY}. Tried ${ANT_KEY} and ${ODD_KEY}; headers Authorization: Bearer ${ODD_KEY}; also ${SHAPES.join(', ')}.`;

let gl: AbuseGatelog;
let openai: Upstream;
let anthropic: Upstream;

beforeAll(async () => {
  openai = await startUpstream((_req, res) => sendJson(res, 401, openAiError(leak, 'invalid_request_error', 'invalid_api_key')));
  anthropic = await startUpstream((_req, res) => sendJson(res, 400, anthropicError(leak)));
  gl = await startAbuseGatelog({
    config: {
      providers: {
        oai: { kind: 'openai', base_url: openai.baseUrl, api_key: OAI_KEY, headers: { 'x-vendor-key': ODD_KEY } },
        ant: { kind: 'anthropic', base_url: anthropic.url, api_key: ANT_KEY },
      },
      models: [
        { name: 'gpt', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] },
      ],
      router: { retries: 0 },
    },
  });
}, 180_000);

afterAll(() => stopAll(gl, openai, anthropic));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function expectClean(where: string, text: string): void {
  for (const s of ALL) expect(text.includes(s), `${where} holds ${s.slice(0, 12)}…`).toBe(false);
}

describe('secrets echoed by an upstream are scrubbed', () => {
  it('from the client answer, the record, the event log and the logs, on every surface', { timeout: 180_000 }, async () => {
    const { id, secret } = await gl.createKey({ name: 'echo-victim' });
    const calls: { path: string; model: string; status: number; shape: 'openai' | 'anthropic' }[] = [
      { path: '/v1/chat/completions', model: 'gpt', status: 401, shape: 'openai' },
      { path: '/v1/chat/completions', model: 'claude', status: 400, shape: 'openai' }, // translated
      { path: '/v1/messages', model: 'claude', status: 400, shape: 'anthropic' },
      { path: '/v1/messages', model: 'gpt', status: 401, shape: 'anthropic' }, // translated
    ];
    for (const c of calls) {
      for (const stream of [false, true]) {
        const res = await fetch(`${gl.url}${c.path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
          body: JSON.stringify({ model: c.model, max_tokens: 16, stream, messages: [{ role: 'user', content: 'hi' }] }),
        });
        const text = await res.text();
        expect(res.status, `${c.path} ${c.model}: ${text}`).toBe(c.status);
        expectClean(`answer of ${c.path} ${c.model}`, text);
        const body = JSON.parse(text) as Record<string, { message?: string; type?: string }>;
        if (c.shape === 'anthropic') expect(body).toMatchObject({ type: 'error', error: { type: expect.any(String) as string } });
        else expect(body['error']).toMatchObject({ type: expect.any(String) as string });
        // The upstream's message is still useful: only the secrets are gone.
        expect(body['error']!.message).toContain('Incorrect API key provided: [redacted]');
      }
    }
    const n = calls.length * 2;
    const rec = await waitRecorded(gl, { keyId: id }, n);
    expect(rec).toMatchObject({ stored: n, published: n, deadLettered: 0 });
    let stored = '';
    for (const rid of rec.requestIds) stored += await (await gl.admin('GET', `/admin/calls/${rid}`)).text();
    expect(stored).toContain('[redacted]');
    expectClean('the store', stored);
    expectClean('the event log', filesUnder(join(gl.dataDir, 'events')).map((f) => readFileSync(f, 'latin1')).join('\n'));
    expectClean('gatelog output', gl.logs());
  });
});
