// Token counts for the event: the usage an upstream reported (OpenAI chat, Anthropic Messages
// or OpenAI Responses shape) mapped to our columns, or — when the upstream reported none — an
// estimate (gpt-tokenizer in a worker thread, bounded; see token-estimate.ts).
import type { OpenAiUsage } from './assemble.ts';
import { BYTES_PER_TOKEN, countTokens } from './token-estimate.ts';

export interface Tokens {
  input_tokens: number;
  output_tokens: number;
  /** Input tokens read from the provider's prompt cache (included in input_tokens). */
  cached_tokens: number;
  /** Input tokens written to the provider's prompt cache (included in input_tokens; Anthropic). */
  cache_creation_tokens: number;
  reasoning_tokens: number;
  tokens_estimated: boolean;
}

const nonNeg = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

type UsageObject = OpenAiUsage & Record<string, unknown>;

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/**
 * Any usage object an upstream reports, by its shape:
 * - OpenAI chat/completions (`prompt_tokens`): cached tokens are part of prompt_tokens. When
 *   `total_tokens` exceeds prompt + completion, the difference is reasoning the upstream billed
 *   but left out of completion_tokens (Gemini's OpenAI endpoint reports thoughts that way).
 * - Anthropic (`input_tokens` without `input_tokens_details`): input_tokens excludes cache reads
 *   and writes, so they are added back (our input_tokens is the whole prompt).
 * - OpenAI Responses (`input_tokens` with `input_tokens_details`): cached are part of input.
 */
export function tokensFromUsage(raw: OpenAiUsage | Record<string, unknown>): Tokens {
  const u = raw as UsageObject;
  if (u.prompt_tokens !== undefined || u.completion_tokens !== undefined) {
    const prompt = nonNeg(u.prompt_tokens);
    const completion = nonNeg(u.completion_tokens);
    let reasoning = nonNeg(u.completion_tokens_details?.reasoning_tokens);
    const hidden = nonNeg(u.total_tokens) - prompt - completion;
    if (hidden > 0) reasoning = Math.max(reasoning, hidden);
    return {
      input_tokens: prompt,
      output_tokens: hidden > 0 ? completion + hidden : completion,
      cached_tokens: nonNeg(u.prompt_tokens_details?.cached_tokens),
      cache_creation_tokens: 0,
      reasoning_tokens: reasoning,
      tokens_estimated: false,
    };
  }
  if (u['input_tokens_details'] !== undefined || u['output_tokens_details'] !== undefined) {
    return {
      input_tokens: nonNeg(u['input_tokens']),
      output_tokens: nonNeg(u['output_tokens']),
      cached_tokens: nonNeg(obj(u['input_tokens_details'])['cached_tokens']),
      cache_creation_tokens: 0,
      reasoning_tokens: nonNeg(obj(u['output_tokens_details'])['reasoning_tokens']),
      tokens_estimated: false,
    };
  }
  const read = nonNeg(u['cache_read_input_tokens']);
  const write = nonNeg(u['cache_creation_input_tokens']);
  return {
    input_tokens: nonNeg(u['input_tokens']) + read + write,
    output_tokens: nonNeg(u['output_tokens']),
    cached_tokens: read,
    cache_creation_tokens: write,
    reasoning_tokens: 0,
    tokens_estimated: false,
  };
}

export const NO_TOKENS: Readonly<Tokens> = Object.freeze({
  input_tokens: 0,
  output_tokens: 0,
  cached_tokens: 0,
  cache_creation_tokens: 0,
  reasoning_tokens: 0,
  tokens_estimated: false,
});

/** Text of the prompt for estimating: message contents (string or text parts), or `prompt`/`input`. */
export function promptText(body: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (v: unknown): void => {
    if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) for (const x of v) add(typeof x === 'object' && x !== null && 'text' in x ? (x as { text: unknown }).text : x);
  };
  const messages = body['messages'];
  if (Array.isArray(messages)) {
    for (const m of messages) if (m && typeof m === 'object') add((m as { content?: unknown }).content);
  }
  add(body['system']); // Anthropic
  add(body['instructions']); // Responses
  add(body['prompt']);
  add(body['input']);
  return parts.join('\n');
}

/**
 * Estimate tokens for a call whose upstream reported no usage (bounded: see token-estimate.ts).
 * ~3 tokens of framing per chat message, as OpenAI counts. `droppedBytes`: output received but
 * not kept (text-budget.ts), estimated from its size.
 */
export async function estimateTokens(body: Record<string, unknown>, output: string, droppedBytes = 0): Promise<Tokens> {
  // Output past the kept text's bound is huge by definition: all of it is estimated from its size.
  const [input = 0, kept = 0] = await countTokens([promptText(body), droppedBytes > 0 ? '' : output]);
  const out = droppedBytes > 0 ? Math.ceil((Buffer.byteLength(output) + droppedBytes) / BYTES_PER_TOKEN) : kept;
  const messages = body['messages'];
  const framing = Array.isArray(messages) ? messages.length * 3 + 3 : 0;
  return { input_tokens: input + framing, output_tokens: out, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: true };
}

/** Prompt tokens of a request body (for count_tokens on upstreams that have no such endpoint). */
export async function estimatePromptTokens(body: Record<string, unknown>): Promise<number> {
  return (await estimateTokens(body, '')).input_tokens;
}
