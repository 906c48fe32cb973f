// Deterministic content for the built-in mock provider, in OpenAI's exact wire format:
// the same request always yields the same text, ids, vectors and token counts.
import type { UpstreamApi } from './types.ts';

/** FNV-1a 32-bit: a stable, cheap hash for ids and vector seeds. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Rough, deterministic token count (~4 bytes a token). */
export const mockTokens = (s: string): number => (s.length === 0 ? 0 : Math.max(1, Math.ceil(Buffer.byteLength(s) / 4)));

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('');
  }
  return '';
}

interface Message {
  role?: unknown;
  content?: unknown;
}

export interface MockCompletion {
  id: string;
  reply: string;
  promptTokens: number;
  completionTokens: number;
}

export function mockCompletion(api: UpstreamApi, json: Readonly<Record<string, unknown>>): MockCompletion {
  let prompt = '';
  let promptTokens = 0;
  if (api === 'openai.chat') {
    const messages = Array.isArray(json['messages']) ? (json['messages'] as Message[]) : [];
    for (const m of messages) {
      const t = textOf(m?.content);
      promptTokens += mockTokens(t) + 3;
      if (m?.role === 'user') prompt = t;
    }
    promptTokens += 3;
  } else {
    const p = json['prompt'];
    prompt = Array.isArray(p) ? p.map((x) => (typeof x === 'string' ? x : '')).join('\n') : typeof p === 'string' ? p : '';
    promptTokens = mockTokens(prompt);
  }
  const reply = `Mock reply to: ${prompt}`;
  const id = `${api === 'openai.chat' ? 'chatcmpl' : 'cmpl'}-mock${fnv1a(reply).toString(16).padStart(8, '0')}`;
  return { id, reply, promptTokens, completionTokens: mockTokens(reply) };
}

export function mockUsage(promptTokens: number, completionTokens: number): Record<string, unknown> {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** Split a reply into up to `max` pieces on word boundaries (at least one piece). */
export function splitReply(reply: string, max = 6): string[] {
  const words = reply.split(/(?<= )/);
  const per = Math.max(1, Math.ceil(words.length / max));
  const out: string[] = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(''));
  return out.length > 0 ? out : [''];
}

function vector(seedText: string, dims: number): number[] {
  let x = fnv1a(seedText) || 1;
  const v = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    // xorshift32: deterministic pseudo-random components in [-1, 1).
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const c = ((x >>> 0) / 0x100000000) * 2 - 1;
    v[i] = c;
    norm += c * c;
  }
  const k = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  // Round through float32 so the float and base64 encodings carry the same values.
  for (let i = 0; i < dims; i++) v[i] = Math.fround(v[i]! * k);
  return v;
}

function base64Floats(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}

export function mockEmbeddings(model: string, json: Readonly<Record<string, unknown>>): string {
  const input = json['input'];
  const items: string[] = typeof input === 'string' ? [input] : Array.isArray(input) ? input.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [];
  const dimsRaw = json['dimensions'];
  const dims = typeof dimsRaw === 'number' && Number.isInteger(dimsRaw) && dimsRaw > 0 && dimsRaw <= 4096 ? dimsRaw : 16;
  const b64 = json['encoding_format'] === 'base64';
  let tokens = 0;
  const data = items.map((text, index) => {
    tokens += mockTokens(text);
    const v = vector(text, dims);
    return { object: 'embedding', index, embedding: b64 ? base64Floats(v) : v };
  });
  return JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}
