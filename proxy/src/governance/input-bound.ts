// An upper bound of the input tokens a request can be billed for, for budget reservations.
// A reservation that under-counts lets parallel calls overspend a budget, so every part of the
// request counts — all message content parts, system prompts, tools/functions schemas,
// response_format schemas, images, audio and documents — and each is bounded from above:
//
// - Text (including schemas, as JSON): one token per UTF-8 byte. Every tokenizer our
//   providers use (byte-level BPE for OpenAI and Anthropic, SentencePiece with byte fallback)
//   never makes more tokens than bytes, so no text — however hostile — can be under-counted.
//   For English prose this reserves about four times the real count; reservations are
//   settled to the real cost as soon as the call ends, so this only narrows how many calls
//   can be in flight close to a budget's end.
// - Tools: plus TOOLS_OVERHEAD_TOKENS once (Anthropic adds a tool-use system prompt of up to
//   ~350 tokens; OpenAI a namespace preamble) and TOOL_OVERHEAD_TOKENS per tool.
// - Images: the larger of the two providers' rules, because a call may be translated to the
//   other provider's API: OpenAI's tiles (fit in 2048², shortest side ≤ 768, 85 + 170 per
//   512 px tile; `detail: low` is 85) and Anthropic's (w·h/750, at most ~1,600 after its own
//   resizing). Dimensions are read from the image header of base64/data-URL images; remote
//   URLs and file ids count IMAGE_TOKENS_UNKNOWN, the most either rule gives one image.
//   Models whose images cost more are listed in IMAGE_RULES by deployment model.
// - PDFs (inline): PDF_PAGE_TOKENS per page (text plus the page image Anthropic adds);
//   audio (inline): one token per AUDIO_BYTES_PER_TOKEN bytes of decoded audio.
// - Content gatelog cannot see (file ids, remote documents, previous_response_id):
//   UNKNOWN_REFERENCE_TOKENS each.
// Bounded work: one pass over the parsed body; base64 is decoded only for a header prefix
// (images) or up to MAX_PDF_SCAN bytes (PDF page count).
import { imageSize } from 'image-size';

export const TOOLS_OVERHEAD_TOKENS = 400;
export const TOOL_OVERHEAD_TOKENS = 16;
export const IMAGE_TOKENS_UNKNOWN = 1600;
export const ANTHROPIC_IMAGE_MAX = 1600;
export const PDF_PAGE_TOKENS = 3000 + IMAGE_TOKENS_UNKNOWN;
export const AUDIO_BYTES_PER_TOKEN = 100;
export const UNKNOWN_REFERENCE_TOKENS = 128_000;
/** Per message (role and framing tokens). */
export const MESSAGE_OVERHEAD_TOKENS = 8;
const MAX_PDF_SCAN = 8 * 1024 * 1024;
const IMAGE_HEADER_BASE64 = 128 * 1024;

/** Top-level fields that are settings, not prompt: not counted. Anything else is. */
const SETTINGS = new Set([
  'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'max_output_tokens', 'temperature', 'top_p', 'top_k', 'n',
  'seed', 'stop', 'stop_sequences', 'metadata', 'user', 'store', 'service_tier', 'logprobs', 'top_logprobs', 'logit_bias', 'presence_penalty',
  'frequency_penalty', 'parallel_tool_calls', 'reasoning_effort', 'reasoning', 'thinking', 'modalities', 'audio', 'safety_identifier',
  'prompt_cache_key', 'include', 'truncation', 'background', 'encoding_format', 'dimensions', 'verbosity',
]);

interface OpenAiTileRule {
  model: RegExp;
  base: number;
  tile: number;
}

/** Models that bill images above the default rules (OpenAI's published per-model numbers). */
export const IMAGE_RULES: readonly OpenAiTileRule[] = [{ model: /gpt-4o-mini/, base: 2833, tile: 5667 }];

export function openAiImageTokens(w: number, h: number, detail: unknown, rule: { base: number; tile: number } = { base: 85, tile: 170 }): number {
  if (detail === 'low') return rule.base;
  let s = Math.min(1, 2048 / Math.max(w, h));
  let [sw, sh] = [w * s, h * s];
  if (Math.min(sw, sh) > 768) {
    s = 768 / Math.min(sw, sh);
    [sw, sh] = [sw * s, sh * s];
  }
  return rule.base + rule.tile * Math.ceil(sw / 512) * Math.ceil(sh / 512);
}

export function anthropicImageTokens(w: number, h: number): number {
  return Math.min(ANTHROPIC_IMAGE_MAX, Math.ceil((w * h) / 750));
}

const byteLen = (s: string): number => Buffer.byteLength(s, 'utf8');
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `data:<mime>;base64,<data>` → [mime, data]. */
function dataUrl(s: unknown): [string, string] | undefined {
  if (typeof s !== 'string' || !s.startsWith('data:')) return undefined;
  const comma = s.indexOf(',');
  if (comma < 0 || comma > 256) return undefined;
  return [s.slice(5, comma).replace(/;base64$/, ''), s.slice(comma + 1)];
}

function imageDims(base64: string): { width: number; height: number } | undefined {
  try {
    const head = Buffer.from(base64.slice(0, IMAGE_HEADER_BASE64), 'base64');
    const d = imageSize(head);
    return d.width > 0 && d.height > 0 ? { width: d.width, height: d.height } : undefined;
  } catch {
    return undefined;
  }
}

function pdfPages(base64: string): number | undefined {
  if ((base64.length * 3) / 4 > MAX_PDF_SCAN) return undefined;
  const text = Buffer.from(base64, 'base64').toString('latin1');
  const pages = text.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  return pages > 0 ? pages : undefined;
}

export class InputBound {
  readonly #tileRule: { base: number; tile: number };

  constructor(deploymentModel: string) {
    this.#tileRule = IMAGE_RULES.find((r) => r.model.test(deploymentModel)) ?? { base: 85, tile: 170 };
  }

  image(base64: string | undefined, detail: unknown): number {
    const d = base64 === undefined ? undefined : imageDims(base64);
    const worstOpenAi = openAiImageTokens(2048, 768, detail, this.#tileRule);
    if (!d) return Math.max(IMAGE_TOKENS_UNKNOWN, worstOpenAi);
    return Math.max(openAiImageTokens(d.width, d.height, detail, this.#tileRule), anthropicImageTokens(d.width, d.height));
  }

  document(mime: string, base64: string): number {
    if (mime.startsWith('image/')) return this.image(base64, 'high');
    if (mime.startsWith('audio/')) return Math.ceil((base64.length * 3) / 4 / AUDIO_BYTES_PER_TOKEN);
    if (mime === 'application/pdf') {
      const pages = pdfPages(base64);
      return pages === undefined ? UNKNOWN_REFERENCE_TOKENS : pages * PDF_PAGE_TOKENS;
    }
    // Plain text and other formats sent inline: at most one token per decoded byte.
    return Math.ceil((base64.length * 3) / 4);
  }

  /** A content part that carries media, or undefined when it is ordinary JSON to walk. */
  media(o: Obj): number | undefined {
    const type = o['type'];
    // OpenAI chat: {type:'image_url', image_url:{url, detail}}; Responses: {type:'input_image', image_url, file_id, detail}
    if (type === 'image_url' || type === 'input_image') {
      const iu = o['image_url'];
      const url = isObj(iu) ? iu['url'] : iu;
      const detail = isObj(iu) ? iu['detail'] : o['detail'];
      return this.image(dataUrl(url)?.[1], detail);
    }
    // OpenAI chat: {type:'input_audio', input_audio:{data, format}}
    if (type === 'input_audio') {
      const a = o['input_audio'];
      const data = isObj(a) ? a['data'] : o['data'];
      return typeof data === 'string' ? this.document('audio/*', data) : UNKNOWN_REFERENCE_TOKENS;
    }
    // OpenAI chat: {type:'file', file:{file_data, file_id}}; Responses: {type:'input_file', file_data, file_id, file_url}
    if (type === 'file' || type === 'input_file') {
      const f = isObj(o['file']) ? o['file'] : o;
      const du = dataUrl(f['file_data']);
      if (du) return this.document(du[0], du[1]);
      if (typeof f['file_data'] === 'string') return this.document('application/pdf', f['file_data']);
      return UNKNOWN_REFERENCE_TOKENS;
    }
    // Anthropic: {type:'image'|'document', source:{type:'base64'|'url'|'file'|'text'|'content', ...}}
    if ((type === 'image' || type === 'document') && isObj(o['source'])) {
      const src = o['source'];
      if (src['type'] === 'base64' && typeof src['data'] === 'string') {
        return this.document(typeof src['media_type'] === 'string' ? src['media_type'] : type === 'image' ? 'image/*' : 'application/pdf', src['data']);
      }
      if (src['type'] === 'text' || src['type'] === 'content') return undefined; // ordinary text: walked
      return type === 'image' ? this.image(undefined, 'high') : UNKNOWN_REFERENCE_TOKENS;
    }
    return undefined;
  }

  walk(v: unknown): number {
    if (typeof v === 'string') return byteLen(v);
    if (typeof v === 'number' || typeof v === 'boolean') return String(v).length;
    if (Array.isArray(v)) {
      let n = 0;
      for (const x of v) n += this.walk(x) + 1;
      return n;
    }
    if (!isObj(v)) return 0;
    const m = this.media(v);
    if (m !== undefined) return m;
    let n = 0;
    for (const [k, x] of Object.entries(v)) {
      // Field names in ordinary content parts are not tokens the model sees, but schema
      // property names are; counting them all keeps one rule for every shape.
      n += byteLen(k) + this.walk(x);
    }
    return n;
  }

  /** Upper bound of the input tokens of a request body (any of the supported APIs). */
  of(body: Obj): number {
    let n = 0;
    for (const [k, v] of Object.entries(body)) {
      if (SETTINGS.has(k)) continue;
      if (k === 'previous_response_id' || k === 'conversation') {
        if (v) n += UNKNOWN_REFERENCE_TOKENS;
        continue;
      }
      n += this.walk(v);
      if ((k === 'tools' || k === 'functions') && Array.isArray(v) && v.length > 0) n += TOOLS_OVERHEAD_TOKENS + TOOL_OVERHEAD_TOKENS * v.length;
      if (k === 'messages' || k === 'input') n += MESSAGE_OVERHEAD_TOKENS * (Array.isArray(v) ? v.length : 1);
    }
    return n + MESSAGE_OVERHEAD_TOKENS;
  }
}

/** Upper bound of a request's input tokens; see the module comment for the rules. */
export function inputTokenBound(body: Record<string, unknown>, deploymentModel = ''): number {
  return new InputBound(deploymentModel).of(body);
}

/**
 * Output tokens a request may generate: its max (max_completion_tokens, max_tokens or
 * max_output_tokens) or `fallback`, times `n` choices.
 */
export function outputTokenBound(body: Record<string, unknown>, fallback: number): number {
  const v = body['max_completion_tokens'] ?? body['max_tokens'] ?? body['max_output_tokens'];
  const max = typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.ceil(v) : fallback;
  const n = body['n'];
  const choices = typeof n === 'number' && Number.isInteger(n) && n > 1 ? Math.min(n, 128) : 1;
  return max * choices;
}
