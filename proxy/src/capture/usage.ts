// Token counts for the event: the usage an upstream reported, through the one normaliser
// (usage-normalize.ts), or — when the upstream reported none — an estimate (gpt-tokenizer in a
// worker thread, bounded; see token-estimate.ts).
import { BYTES_PER_TOKEN, countTokens } from './token-estimate.ts';
import type { Tokens } from './usage-normalize.ts';

export { NO_TOKENS, tokenDetail, tokensFromUsage, type Tokens } from './usage-normalize.ts';

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
