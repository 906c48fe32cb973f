// Budgets hold to the cent when calls carry more than text: tools schemas, images, system
// prompts. Waves of 20 parallel calls on a $5 budget, against upstreams that bill honestly
// (text at 4 bytes a token, images by each provider's published rule, read from the PNG
// header), through a real gatelog process. Before the reservation counted every part, each
// call reserved only its text and all 20 of the first wave went through ($8+ spent).
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicMessage,
  openAiCompletion,
  sendJson,
  startAbuseGatelog,
  startUpstream,
  stopAll,
  waitRecorded,
  type AbuseGatelog,
  type Upstream,
} from './harness.ts';

const BUDGET = 5;
const PRICE = 40; // USD per million tokens, input and output

/** A real (all-black) PNG of w×h pixels. */
function png(w: number, h: number): string {
  const crcTable = Array.from({ length: 256 }, (_x, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer): number => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const raw = Buffer.alloc((w + 1) * h);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]).toString('base64');
}

/** Width and height from a base64 PNG's IHDR, as an upstream reads them. */
function pngDims(b64: string): [number, number] {
  const b = Buffer.from(b64.slice(0, 64), 'base64');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

const textTokens = (v: unknown): number => Math.ceil(Buffer.byteLength(JSON.stringify(v)) / 4);

function openAiTiles(w: number, h: number): number {
  let [sw, sh] = [w, h];
  const s1 = Math.min(1, 2048 / Math.max(sw, sh));
  [sw, sh] = [sw * s1, sh * s1];
  if (Math.min(sw, sh) > 768) {
    const s2 = 768 / Math.min(sw, sh);
    [sw, sh] = [sw * s2, sh * s2];
  }
  return 85 + 170 * Math.ceil(sw / 512) * Math.ceil(sh / 512);
}

const tools = Array.from({ length: 10 }, (_x, i) => ({
  name: `lookup_${i}`,
  description: `Looks up record ${i}. `.repeat(150),
  parameters: { type: 'object', properties: { id: { type: 'string', description: 'The record id. '.repeat(20) } }, required: ['id'] },
}));

let gl: AbuseGatelog;
let openai: Upstream;
let anthropic: Upstream;

beforeAll(async () => {
  // OpenAI bills text, tool schemas and images (85 + 170 per 512 px tile).
  openai = await startUpstream((req, res) => {
    const msgs = req.body['messages'] as { content: unknown }[];
    let images = 0;
    const texts: unknown[] = [req.body['tools']];
    for (const m of msgs) {
      if (!Array.isArray(m.content)) texts.push(m.content);
      else
        for (const p of m.content as { type: string; text?: string; image_url?: { url: string } }[]) {
          if (p.type === 'image_url') images += openAiTiles(...pngDims(p.image_url!.url.split(',')[1]!));
          else texts.push(p.text);
        }
    }
    const prompt = textTokens(texts) + images;
    sendJson(res, 200, openAiCompletion(String(req.body['model']), 'ok', { prompt_tokens: prompt, completion_tokens: 50, total_tokens: prompt + 50 }));
  });
  // Anthropic bills text, system, tools and images at w·h/750 (at most ~1,600).
  anthropic = await startUpstream((req, res) => {
    const msgs = req.body['messages'] as { content: unknown }[];
    let images = 0;
    const texts: unknown[] = [req.body['tools'], req.body['system']];
    for (const m of msgs) {
      for (const p of Array.isArray(m.content) ? (m.content as { type: string; text?: string; source?: { data: string } }[]) : [{ type: 'text', text: String(m.content) }]) {
        if (p.type === 'image') {
          const [w, h] = pngDims(p.source!.data);
          images += Math.min(1600, Math.ceil((w * h) / 750));
        } else texts.push(p.text);
      }
    }
    sendJson(res, 200, anthropicMessage(String(req.body['model']), 'ok', { input_tokens: textTokens(texts) + images, output_tokens: 50 }));
  });
  gl = await startAbuseGatelog({
    config: {
      providers: { oai: { kind: 'openai', base_url: openai.baseUrl, api_key: 'sk-upstream-oai' }, ant: { kind: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-upstream' } },
      models: [
        { name: 'vision', deployments: [{ provider: 'oai', model: 'gpt-4o' }] },
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] },
      ],
      pricing: [
        { provider: 'oai', model: 'gpt-4o', input: PRICE, output: PRICE },
        { provider: 'ant', model: 'claude-sonnet-4-5', input: PRICE, output: PRICE },
      ],
    },
  });
}, 180_000);

afterAll(() => stopAll(gl, openai, anthropic));

interface Spent {
  calls: number;
  admitted: number;
  statuses: number[];
}

/** Waves of 20 parallel calls until a whole wave is refused. */
async function drain(send: () => Promise<Response>, checkRefusal: (body: unknown) => void): Promise<Spent> {
  const out: Spent = { calls: 0, admitted: 0, statuses: [] };
  for (let wave = 0; wave < 12; wave++) {
    const results = await Promise.all(Array.from({ length: 20 }, send));
    let ok = 0;
    for (const r of results) {
      const body = (await r.json()) as unknown;
      out.statuses.push(r.status);
      if (r.status === 200) ok++;
      else {
        expect(r.status, JSON.stringify(body)).toBe(429);
        checkRefusal(body);
      }
    }
    out.calls += results.length;
    out.admitted += ok;
    if (ok === 0) break;
  }
  return out;
}

async function spentUsd(keyId: string, calls: number): Promise<number> {
  const c = await waitRecorded(gl, { keyId }, calls);
  // Every call (admitted or refused) recorded exactly once, none dead-lettered.
  expect(c).toMatchObject({ stored: calls, published: calls, deadLettered: 0 });
  const res = await gl.admin('GET', `/admin/calls?key=${keyId}&limit=500`);
  const rows = ((await res.json()) as { data: { cost_usd: number | null }[] }).data;
  return rows.reduce((s, r) => s + (r.cost_usd ?? 0), 0);
}

describe('budget reservations count every part of the request', () => {
  it('OpenAI chat with tools and four 2048² images: 20 in parallel never overspend $5', { timeout: 180_000 }, async () => {
    const { id, secret } = await gl.createKey({ name: 'vision-app', budget_usd: BUDGET, budget_period: 'monthly' });
    const image = `data:image/png;base64,${png(2048, 2048)}`;
    const body = JSON.stringify({
      model: 'vision',
      max_tokens: 100,
      tools: tools.map((t) => ({ type: 'function', function: t })),
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Compare these.' }, ...Array.from({ length: 4 }, () => ({ type: 'image_url', image_url: { url: image, detail: 'high' } }))] }],
    });
    const send = (): Promise<Response> => fetch(`${gl.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body });
    const r = await drain(send, (b) => expect(b).toMatchObject({ error: { type: 'budget_exceeded', code: 'budget_exceeded' } }));
    const spent = await spentUsd(id, r.calls);
    expect(r.admitted).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(BUDGET + 0.005);
    // One call costs about $0.43: the budget is used, not just refused from the start.
    expect(spent).toBeGreaterThan(BUDGET / 4);
  });

  it('Anthropic messages with a system prompt, tools and images: 20 in parallel never overspend $5', { timeout: 180_000 }, async () => {
    const { id, secret } = await gl.createKey({ name: 'claude-app', budget_usd: BUDGET, budget_period: 'monthly' });
    const data = png(1000, 1000);
    const body = JSON.stringify({
      model: 'claude',
      max_tokens: 100,
      system: 'You are a careful analyst. '.repeat(400),
      tools: tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters })),
      messages: [{ role: 'user', content: [...Array.from({ length: 4 }, () => ({ type: 'image', source: { type: 'base64', media_type: 'image/png', data } })), { type: 'text', text: 'Compare these.' }] }],
    });
    const send = (): Promise<Response> =>
      fetch(`${gl.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': secret, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, body });
    const r = await drain(send, (b) => expect(b).toMatchObject({ type: 'error', error: { type: expect.any(String) as string } }));
    const spent = await spentUsd(id, r.calls);
    expect(r.admitted).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(BUDGET + 0.005);
    expect(spent).toBeGreaterThan(BUDGET / 4);
  });
});
