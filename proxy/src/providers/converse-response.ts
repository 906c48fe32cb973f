// Bedrock Converse answer → OpenAI chat completion. Pure, shared with the stream translator:
// stopReason → finish_reason, Converse usage → the proxy's normalised tokens, a Bedrock failure
// as OpenAI's error body. https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
import {
  TranslateError, anthropicErrorToOpenAI, normalizeAnthropicUsage, toOpenAIUsage,
  type NormalizedUsage, type OpenAIChatCompletion, type OpenAIErrorBody, type OpenAIFinishReason, type OpenAIToolCall,
} from '../translate/index.ts';
import { buildOpenAIMessage } from '../translate/anthropic-to-openai-response.ts';
import { isObject, num } from '../translate/guards.ts';
import { anthropicErrorJson } from './wire.ts';
import type { BedrockError } from './bedrock-stream.ts';

const STOP_TO_FINISH: Readonly<Record<string, OpenAIFinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

export const converseFinish = (stop: unknown): OpenAIFinishReason => (typeof stop === 'string' ? STOP_TO_FINISH[stop] : undefined) ?? 'stop';

/** Converse usage (input without the cached parts, as Anthropic counts) as the proxy's tokens; null when absent. */
export function converseUsage(u: unknown): NormalizedUsage | null {
  if (!isObject(u) || typeof u['inputTokens'] !== 'number') return null;
  return normalizeAnthropicUsage({
    input_tokens: u['inputTokens'],
    output_tokens: num(u['outputTokens']),
    cache_read_input_tokens: num(u['cacheReadInputTokens']),
    cache_creation_input_tokens: num(u['cacheWriteInputTokens']),
  });
}

/** A Bedrock failure (HTTP or stream exception) as OpenAI's error body; its status stays `e.status`. */
export const openaiErrorOf = (e: BedrockError): OpenAIErrorBody => anthropicErrorToOpenAI(e.status, anthropicErrorJson(e)).body;

export interface ConverseAnswerMeta {
  id: string;
  model: string;
  created: number;
}

/** The answer's content blocks as OpenAI's message parts. */
function parts(content: unknown[]): { text: string[]; reasoning: string[]; tools: OpenAIToolCall[] } {
  const text: string[] = [];
  const reasoning: string[] = [];
  const tools: OpenAIToolCall[] = [];
  for (const b of content) {
    if (!isObject(b)) continue;
    if (typeof b['text'] === 'string') text.push(b['text']);
    else if (isObject(b['toolUse'])) {
      const t = b['toolUse'];
      tools.push({ id: String(t['toolUseId'] ?? ''), type: 'function', function: { name: String(t['name'] ?? ''), arguments: JSON.stringify(t['input'] ?? {}) } });
    } else if (isObject(b['reasoningContent']) && isObject(b['reasoningContent']['reasoningText'])) {
      const r = b['reasoningContent']['reasoningText']['text'];
      if (typeof r === 'string') reasoning.push(r);
    }
  }
  return { text, reasoning, tools };
}

export function converseToOpenAIResponse(raw: unknown, meta: ConverseAnswerMeta): { body: OpenAIChatCompletion; usage: NormalizedUsage | null } {
  const output = isObject(raw) && isObject(raw['output']) ? raw['output'] : undefined;
  const message = output && isObject(output['message']) ? output['message'] : undefined;
  if (!isObject(raw) || !message || !Array.isArray(message['content'])) throw new TranslateError('invalid_upstream_response', 'upstream response is not a Bedrock Converse answer');
  const p = parts(message['content']);
  const usage = converseUsage(raw['usage']);
  const body: OpenAIChatCompletion = {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: buildOpenAIMessage(p.text, p.tools, p.reasoning, true), logprobs: null, finish_reason: converseFinish(raw['stopReason']) }],
  };
  if (usage) body.usage = toOpenAIUsage(usage);
  return { body, usage };
}
