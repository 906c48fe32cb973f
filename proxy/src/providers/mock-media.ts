// Deterministic image-generation and moderation answers for the built-in mock provider, in
// OpenAI's exact wire shapes (https://platform.openai.com/docs/api-reference/images/object,
// https://platform.openai.com/docs/api-reference/moderations/object).
import { fnv1a, mockTokens } from './mock-content.ts';

/** A valid 1×1 transparent PNG: every mock image, whatever size was asked for. */
const PIXEL_PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** gpt-image-1's output tokens for one low-quality 1024×1024 image (OpenAI's published table). */
const IMAGE_OUTPUT_TOKENS = 272;

/**
 * gpt-image models answer base64 with `usage`; DALL·E answers `url` or `b64_json` as asked, with
 * a `revised_prompt` (DALL·E 3) and no usage.
 */
export function mockImages(model: string, json: Readonly<Record<string, unknown>>): string {
  const prompt = typeof json['prompt'] === 'string' ? json['prompt'] : '';
  const nRaw = json['n'];
  const n = typeof nRaw === 'number' && Number.isInteger(nRaw) && nRaw >= 1 && nRaw <= 10 ? nRaw : 1;
  const created = Math.floor(Date.now() / 1000);
  const id = fnv1a(`${model}\n${prompt}`).toString(16).padStart(8, '0');
  if (model.startsWith('gpt-image')) {
    const input = mockTokens(prompt);
    const output = IMAGE_OUTPUT_TOKENS * n;
    const data = Array.from({ length: n }, () => ({ b64_json: PIXEL_PNG_B64 }));
    return JSON.stringify({
      created,
      data,
      usage: { input_tokens: input, input_tokens_details: { text_tokens: input, image_tokens: 0 }, output_tokens: output, total_tokens: input + output },
    });
  }
  const url = json['response_format'] === 'url';
  const data = Array.from({ length: n }, (_x, i) => ({
    ...(url ? { url: `https://mock.gatelog.invalid/images/${id}-${i}.png` } : { b64_json: PIXEL_PNG_B64 }),
    ...(model.startsWith('dall-e-2') ? {} : { revised_prompt: `A mock rendering of: ${prompt}` }),
  }));
  return JSON.stringify({ created, data });
}

const CATEGORIES = [
  'harassment', 'harassment/threatening', 'hate', 'hate/threatening', 'illicit', 'illicit/violent',
  'self-harm', 'self-harm/intent', 'self-harm/instructions', 'sexual', 'sexual/minors', 'violence', 'violence/graphic',
] as const;

/** The one category the mock flags: text naming violence, so a test can see a flagged answer. */
const VIOLENT = /\b(kill|attack|hurt)\b/i;

function inputsOf(input: unknown): { text: string; image: boolean }[] {
  if (typeof input === 'string') return [{ text: input, image: false }];
  if (!Array.isArray(input)) return [];
  // omni-moderation's multi-modal form is one result for the whole array of parts.
  if (input.some((p) => p && typeof p === 'object')) {
    const parts = input as { type?: unknown; text?: unknown }[];
    return [{ text: parts.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('\n'), image: parts.some((p) => p?.type === 'image_url') }];
  }
  return input.map((x) => ({ text: typeof x === 'string' ? x : '', image: false }));
}

export function mockModerations(model: string, json: Readonly<Record<string, unknown>>): string {
  const inputs = inputsOf(json['input']);
  const results = inputs.map(({ text, image }) => {
    const violent = VIOLENT.test(text);
    const h = fnv1a(text);
    const categories: Record<string, boolean> = {};
    const scores: Record<string, number> = {};
    const applied: Record<string, string[]> = {};
    CATEGORIES.forEach((c, i) => {
      const flagged = violent && c === 'violence';
      categories[c] = flagged;
      // Small, stable scores below any threshold; the flagged one high.
      scores[c] = flagged ? 0.91 : ((h >>> i) % 97) / 1e5;
      applied[c] = image && (c.startsWith('violence') || c.startsWith('self-harm') || c === 'sexual') ? ['text', 'image'] : ['text'];
    });
    return { flagged: violent, categories, category_scores: scores, category_applied_input_types: applied };
  });
  return JSON.stringify({ id: `modr-mock${fnv1a(JSON.stringify(json['input'] ?? '')).toString(16).padStart(8, '0')}`, model, results });
}
