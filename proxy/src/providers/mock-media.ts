// Deterministic image (generations, edits, variations) and moderation answers for the built-in
// mock provider, in OpenAI's exact wire shapes
// (https://platform.openai.com/docs/api-reference/images/object,
// https://platform.openai.com/docs/api-reference/moderations/object).
import { fnv1a, mockTokens } from './mock-content.ts';

/** A valid 1×1 transparent PNG: every mock image, whatever size was asked for. */
const PIXEL_PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** gpt-image-1's output tokens for one low-quality 1024×1024 image (OpenAI's published table). */
const IMAGE_OUTPUT_TOKENS = 272;

/** gpt-image-1's input tokens for one low-fidelity image an edit uploads. */
const INPUT_IMAGE_TOKENS = 65;

/** `n` as JSON sends it (a number) or a form does (its text), 1 to 10; else 1. */
function countOf(v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 10 ? n : 1;
}

/** A size or quality asked for, else the one the mock answers (`auto` and absent alike). */
const asked = (v: unknown, d: string): string => (typeof v === 'string' && v !== '' && v !== 'auto' ? v : d);

/**
 * gpt-image models answer base64 with `usage`, and the size and quality they made (what `auto`
 * became); DALL·E answers `url` or `b64_json` as asked, with
 * a `revised_prompt` (DALL·E 3) and no usage. `inputImages`: the images an edit uploaded (their
 * tokens count as input).
 */
export function mockImages(model: string, json: Readonly<Record<string, unknown>>, inputImages = 0): string {
  const prompt = typeof json['prompt'] === 'string' ? json['prompt'] : '';
  const n = countOf(json['n']);
  const created = Math.floor(Date.now() / 1000);
  const id = fnv1a(`${model}\n${prompt}`).toString(16).padStart(8, '0');
  if (model.startsWith('gpt-image')) {
    const text = mockTokens(prompt);
    const images = INPUT_IMAGE_TOKENS * inputImages;
    const input = text + images;
    const output = IMAGE_OUTPUT_TOKENS * n;
    const data = Array.from({ length: n }, () => ({ b64_json: PIXEL_PNG_B64 }));
    return JSON.stringify({
      created,
      background: 'opaque',
      data,
      output_format: 'png',
      quality: asked(json['quality'], 'low'),
      size: asked(json['size'], '1024x1024'),
      usage: { input_tokens: input, input_tokens_details: { text_tokens: text, image_tokens: images }, output_tokens: output, total_tokens: input + output },
    });
  }
  const url = json['response_format'] === 'url';
  const data = Array.from({ length: n }, (_x, i) => ({
    ...(url ? { url: `https://mock.gatelog.invalid/images/${id}-${i}.png` } : { b64_json: PIXEL_PNG_B64 }),
    ...(model.startsWith('dall-e-2') ? {} : { revised_prompt: `A mock rendering of: ${prompt}` }),
  }));
  return JSON.stringify({ created, data });
}

/**
 * POST /images/edits and /images/variations: `json` is the form's fields plus `files: [{field,
 * …}]`. Edits answer as generations do, the uploaded images (not the mask) counted as input;
 * variations are DALL·E 2's: no prompt, no revised_prompt, no usage.
 */
export function mockImageUpload(api: 'openai.images.edits' | 'openai.images.variations', model: string, json: Readonly<Record<string, unknown>>): string {
  const files = Array.isArray(json['files']) ? (json['files'] as { field?: unknown }[]) : [];
  if (api === 'openai.images.edits') return mockImages(model, json, files.filter((f) => f.field === 'image' || f.field === 'image[]').length);
  const n = countOf(json['n']);
  const url = json['response_format'] === 'url';
  const id = fnv1a(`${model}\n${JSON.stringify(files)}`).toString(16).padStart(8, '0');
  const data = Array.from({ length: n }, (_x, i) => (url ? { url: `https://mock.gatelog.invalid/images/${id}-v${i}.png` } : { b64_json: PIXEL_PNG_B64 }));
  return JSON.stringify({ created: Math.floor(Date.now() / 1000), data });
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
