import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  IMAGE_TOKENS_UNKNOWN,
  PDF_PAGE_TOKENS,
  TOOLS_OVERHEAD_TOKENS,
  UNKNOWN_REFERENCE_TOKENS,
  anthropicImageTokens,
  inputTokenBound,
  openAiImageTokens,
  outputTokenBound,
} from './input-bound.ts';

/** A PNG header is all image-size reads: signature + IHDR (CRC not checked). */
function pngBase64(w: number, h: number): string {
  const b = Buffer.alloc(33);
  b.set([137, 80, 78, 71, 13, 10, 26, 10], 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  b.set([8, 2, 0, 0, 0], 24);
  return Buffer.concat([b, deflateSync(Buffer.alloc(10))]).toString('base64');
}

describe('image rules', () => {
  it.each([
    [1024, 1024, 'high', 765], // OpenAI's worked example: 768² → 4 tiles
    [2048, 4096, 'high', 1105], // → 1024×2048 → 768×1536 → 6 tiles
    [4096, 8192, 'low', 85],
    [512, 512, 'auto', 255],
  ])('OpenAI %i×%i detail=%s → %i', (w, h, detail, tokens) => {
    expect(openAiImageTokens(w, h, detail)).toBe(tokens);
  });

  it('Anthropic: w·h/750, at most 1,600', () => {
    expect(anthropicImageTokens(200, 200)).toBe(54);
    expect(anthropicImageTokens(1000, 1000)).toBe(1334);
    expect(anthropicImageTokens(4000, 4000)).toBe(1600);
  });
});

describe('inputTokenBound', () => {
  const text = (n: number): string => 'word '.repeat(n);

  it('is at least the UTF-8 bytes of every text part, system prompt and tool schema', () => {
    const tools = [{ type: 'function', function: { name: 'f', description: text(1000), parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
    const plain = inputTokenBound({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    const withTools = inputTokenBound({ model: 'm', messages: [{ role: 'user', content: 'hi' }], tools });
    expect(withTools - plain).toBeGreaterThanOrEqual(5000 + TOOLS_OVERHEAD_TOKENS);
    const anthropic = inputTokenBound({ model: 'm', system: [{ type: 'text', text: text(2000) }], messages: [{ role: 'user', content: [{ type: 'text', text: 'ß'.repeat(1000) }] }] });
    expect(anthropic).toBeGreaterThanOrEqual(10_000 + 2000);
  });

  it('settings are not prompt: the bound does not grow with them', () => {
    const a = inputTokenBound({ messages: [{ role: 'user', content: 'hi' }] });
    const b = inputTokenBound({ messages: [{ role: 'user', content: 'hi' }], model: 'x'.repeat(5000), temperature: 0.7, stop: ['x'.repeat(100)], metadata: { a: 'b'.repeat(999) } });
    expect(b).toBe(a);
  });

  it('images by their header dimensions, base64 never counted as text', () => {
    const data = pngBase64(1000, 1000);
    const url = `data:image/png;base64,${data}${'A'.repeat(200_000)}`;
    const oai = inputTokenBound({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] });
    // max(OpenAI 765, Anthropic 1334) plus framing, not 200k.
    expect(oai).toBeGreaterThanOrEqual(1334);
    expect(oai).toBeLessThan(1600);
    const ant = inputTokenBound({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }] }] });
    expect(ant).toBeGreaterThanOrEqual(1334);
    expect(ant).toBeLessThan(1600);
  });

  it('unknown dimensions (remote URLs, unreadable data) count the conservative bound', () => {
    for (const part of [
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,bm90IGFuIGltYWdl' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
      { type: 'input_image', image_url: 'https://example.com/cat.png' },
    ]) {
      expect(inputTokenBound({ messages: [{ role: 'user', content: [part] }] })).toBeGreaterThanOrEqual(IMAGE_TOKENS_UNKNOWN);
    }
  });

  it('models that bill images higher use their own rule (gpt-4o-mini: 2833 + 5667 per tile)', () => {
    const body = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${pngBase64(1024, 1024)}` } }] }] };
    expect(inputTokenBound(body, 'gpt-4o-mini')).toBeGreaterThanOrEqual(2833 + 4 * 5667);
    expect(inputTokenBound(body, 'gpt-4o')).toBeLessThan(2000);
  });

  it('images inside tool results count too', () => {
    const data = pngBase64(1000, 1000);
    const body = { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }] }] }] };
    expect(inputTokenBound(body)).toBeGreaterThanOrEqual(1334);
  });

  it('PDFs by page count; references gatelog cannot see by a fixed bound', () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] >>\n2 0 obj << /Type /Page >>\n3 0 obj << /Type /Page >>\n').toString('base64');
    const doc = inputTokenBound({ messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } }] }] });
    expect(doc).toBeGreaterThanOrEqual(2 * PDF_PAGE_TOKENS);
    expect(doc).toBeLessThan(3 * PDF_PAGE_TOKENS);
    expect(inputTokenBound({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] })).toBeGreaterThanOrEqual(UNKNOWN_REFERENCE_TOKENS);
    expect(inputTokenBound({ input: 'hi', previous_response_id: 'resp_1' })).toBeGreaterThanOrEqual(UNKNOWN_REFERENCE_TOKENS);
  });
});

describe('outputTokenBound', () => {
  it('max tokens of any API, times n choices; the fallback when unset', () => {
    expect(outputTokenBound({ max_tokens: 100 }, 4096)).toBe(100);
    expect(outputTokenBound({ max_completion_tokens: 50, max_tokens: 100 }, 4096)).toBe(50);
    expect(outputTokenBound({ max_output_tokens: 70 }, 4096)).toBe(70);
    expect(outputTokenBound({ max_tokens: 100, n: 5 }, 4096)).toBe(500);
    expect(outputTokenBound({}, 4096)).toBe(4096);
    expect(outputTokenBound({ max_tokens: -1, n: 1e9 }, 4096)).toBe(4096 * 128);
  });
});
