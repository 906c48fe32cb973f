// Anthropic Messages response → OpenAI chat.completion, plus provider-neutral usage for pricing.
import type { AnthropicMessage } from './types-anthropic.ts';
import type { OpenAIChatCompletion, OpenAIFinishReason, OpenAIResponseMessage, OpenAIToolCall } from './types-openai.ts';
import { TranslateError } from './errors.ts';
import { isObject } from './guards.ts';
import { anthropicStopToFinish, normalizeAnthropicUsage, toOpenAIUsage, type NormalizedUsage } from './usage.ts';

export interface AnthropicToOpenAIResponseOptions {
  /** thinking text → message.reasoning_content (default true); false omits it */
  includeReasoning?: boolean;
  /** unix seconds for `created`; injected so the translator stays pure */
  created: number;
}

export interface TranslatedResponse<B> {
  body: B;
  usage: NormalizedUsage;
  upstreamModel: string;
}

/** Builds the assistant message from text/tool/thinking parts; shared with the stream transformer. */
export function buildOpenAIMessage(text: string[], toolCalls: OpenAIToolCall[], reasoning: string[], includeReasoning: boolean): OpenAIResponseMessage {
  const message: OpenAIResponseMessage = { role: 'assistant', content: text.length > 0 ? text.join('') : null, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (includeReasoning && reasoning.length > 0) message.reasoning_content = reasoning.join('');
  return message;
}

export function anthropicToOpenAIResponse(raw: unknown, opts: AnthropicToOpenAIResponseOptions): TranslatedResponse<OpenAIChatCompletion> {
  if (!isObject(raw) || !Array.isArray(raw['content'])) {
    throw new TranslateError('invalid_upstream_response', 'upstream response is not an Anthropic message');
  }
  const msg = raw as unknown as AnthropicMessage;
  const text: string[] = [];
  const reasoning: string[] = [];
  const toolCalls: OpenAIToolCall[] = [];
  for (const block of msg.content) {
    if (block.type === 'text' && typeof block['text'] === 'string') text.push(block['text']);
    else if (block.type === 'thinking' && typeof block['thinking'] === 'string') reasoning.push(block['thinking']);
    else if (block.type === 'tool_use') {
      toolCalls.push({
        id: String(block['id']),
        type: 'function',
        function: { name: String(block['name']), arguments: JSON.stringify(block['input'] ?? {}) },
      });
    }
    // redacted_thinking and server-tool blocks have no OpenAI counterpart and carry no answer text.
  }
  const usage = normalizeAnthropicUsage(msg.usage);
  const finish: OpenAIFinishReason | null = anthropicStopToFinish(msg.stop_reason);
  const body: OpenAIChatCompletion = {
    id: msg.id,
    object: 'chat.completion',
    created: opts.created,
    model: msg.model,
    choices: [{ index: 0, message: buildOpenAIMessage(text, toolCalls, reasoning, opts.includeReasoning ?? true), logprobs: null, finish_reason: finish }],
    usage: toOpenAIUsage(usage),
  };
  return { body, usage, upstreamModel: msg.model };
}
